import { z } from 'zod';

/** Configuration of the files connector: whether it is on and the one directory it may touch. */
export const FilesConfigSchema = z.object({
  enabled: z.boolean().default(false).describe('Put files.read, files.write and files.delete in the catalog.'),
  root: z.string().min(1).optional().describe('Directory the tools may read and write; paths outside it are refused. Default <dataDir>/files.'),
}).strict();

/** Configuration of the files connector. */
export type FilesConfig = z.output<typeof FilesConfigSchema>;
