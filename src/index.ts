import * as core from './actions-core.js'
import { run } from './main.js'
import { post } from './post.js'
import { State } from './state.js'

// One bundle for both steps (action.yml: main and post): the main step saves IsPost.
if (core.getState(State.IsPost) === 'true') {
  await post()
} else {
  await run()
}
