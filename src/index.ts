import * as core from './actions-core.js'
import { run } from './main.js'
import { State } from './state.js'

// One bundle for both steps (action.yml: main and post): the main step saves IsPost.
if (core.getState(State.IsPost) === 'true') {
  // Its own chunk: the main step never loads it.
  const { post } = await import('./post.js')
  await post()
} else {
  await run()
}
