export function packagePlugin(): Promise<string>;
