/**
 * The post step as a module whose `run` does it, for @github/local-action (which imports an entry
 * and calls its exported `run`): `local-action run . src/main.ts .env --post src/post-entry.ts`.
 * The bundle (dist/index.js, src/index.ts) does not use this file: it picks the step by its state.
 */
export { post as run } from './post.js'
