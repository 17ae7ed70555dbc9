import { z } from 'zod';

/** Name of a configured repository: a lowercase slug, unique. */
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/**
 * A Git revision the connector may read: a branch, tag or `HEAD`-relative name. Letters, digits and
 * `/ . _ - ~ ^`, not starting with `-` and without `..`, so it can never be read as an option or a range.
 */
export const GIT_REF = /^(?!-)(?!.*\.\.)[A-Za-z0-9/._~^-]{1,200}$/;

/** One Git repository whose history is a change feed (a deploy or configuration repository). */
const GitRepositorySchema = z
  .object({
    name: z.string().regex(NAME, 'a lowercase slug: letters, digits, ".", "_" or "-", at most 63 characters')
      .describe('Its name in tool inputs and outputs (`repos`, `source: git:<name>`).'),
    path: z.string().min(1).describe('The repository: its working tree or, for a bare repository, its directory.'),
    service: z.string().min(1).max(200).optional().describe('The service its changes belong to; unset: any service (a shared repository).'),
    ref: z.string().regex(GIT_REF, 'a branch, tag or HEAD, without ".." and not starting with "-"').default('HEAD')
      .describe('The branch whose history is read (its first-parent history: what landed on it, when).'),
  })
  .strict();

/**
 * Configuration of the changes connector: the change feed (Git history of deploy and configuration
 * repositories, a deploy log) read by `changes.git`, `changes.deploys` and `changes.list`.
 */
export const ChangesConfigSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Put changes.git, changes.deploys and changes.list in the catalog.'),
    git: z.array(GitRepositorySchema).max(50).default([])
      // Checked even when an item has other problems (`when`), so every problem is listed at once.
      .check(z.superRefine((repos: unknown, ctx) => {
        if (!Array.isArray(repos)) return;
        const seen = new Set<string>();
        (repos as unknown[]).forEach((repo, index) => {
          const name = (repo as { name?: unknown } | null)?.name;
          if (typeof name !== 'string') return;
          if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], input: name, params: { expected: 'a name no other repository has' }, message: 'is the name of another repository' });
          seen.add(name);
        });
      }, { when: () => true }))
      .describe('Git repositories whose commits are changes.'),
    deployLog: z.string().min(1).optional().describe('A JSON Lines file of deployment records (docs/connectors/changes.md); unset: no deploy log.'),
    maxChanges: z.int().min(1).max(10_000).default(500).describe('Most changes one call returns; the newest are kept.'),
    maxRangeMs: z.int().min(60_000).max(366 * 24 * 60 * 60 * 1000).default(7 * 24 * 60 * 60 * 1000).describe('Longest window one call may ask for, ms.'),
    maxReadBytes: z.int().min(4096).max(1_073_741_824).default(16 * 1_048_576).describe('Most bytes read from the end of the deploy log per call.'),
  })
  .strict();

/** Configuration of the changes connector; `git[].path` and `deployLog` absolute after `loadConfig`. */
export type ChangesConfig = z.output<typeof ChangesConfigSchema>;
