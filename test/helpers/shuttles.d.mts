export function killShuttles(home: string): number;
