// The part of madge's API the architecture test uses (madge ships no type declarations).
declare module 'madge' {
  interface MadgeResult {
    /** Each cycle as the list of files on it, relative to the base directory. */
    circular(): string[][];
  }
  export default function madge(path: string, config?: { fileExtensions?: string[] }): Promise<MadgeResult>;
}
