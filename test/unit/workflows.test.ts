/**
 * Every workflow of this repository, every workflow example in the README and action.yml, read by
 * GitHub's own parser (@actions/workflow-parser, the one behind the Actions language service): a
 * broken example or manifest fails here, not in a user's repository. Steps that use this action may
 * give only inputs that action.yml declares, and must give the required ones.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import {
  convertWorkflowTemplate,
  isMapping,
  isSequence,
  isString,
  NoOperationTraceWriter,
  parseWorkflow,
} from '@actions/workflow-parser'
import { convertActionTemplate, parseAction } from '@actions/workflow-parser/actions/index'
import type { TemplateToken } from '@actions/workflow-parser/templates/tokens/template-token'
import { describe, expect, it } from 'vitest'

const ROOT = path.resolve(import.meta.dirname, '../..')
const read = (p: string) => readFileSync(path.join(ROOT, p), 'utf8')

/** action.yml's errors by GitHub's action schema, and its inputs. */
function readAction(content: string): { errors: string[]; inputs: Map<string, boolean> } {
  const parsed = parseAction({ name: 'action.yml', content }, new NoOperationTraceWriter())
  const inputs = new Map<string, boolean>()
  if (parsed.value) {
    const action = convertActionTemplate(parsed.context, parsed.value)
    for (const i of action.inputs ?? []) inputs.set(i.id, i.required === true)
  }
  return { errors: parsed.context.errors.getErrors().map((e) => e.message), inputs }
}

const ACTION = readAction(read('action.yml'))

function get(t: TemplateToken | undefined, key: string): TemplateToken | undefined {
  return t && isMapping(t) ? t.find(key) : undefined
}

/** Steps that run this action (`uses: ./` or `uses: rsync-atomic-deploy/rsync-atomic-deploy@…`). */
function inputProblems(root: TemplateToken, file: string): string[] {
  const problems: string[] = []
  const jobs = get(root, 'jobs')
  if (!jobs || !isMapping(jobs)) return problems
  for (let j = 0; j < jobs.count; j++) {
    const job = jobs.get(j)
    const steps = get(job.value, 'steps')
    if (!steps || !isSequence(steps)) continue
    for (let s = 0; s < steps.count; s++) {
      const step = steps.get(s)
      const uses = get(step, 'uses')
      if (!uses || !isString(uses)) continue
      if (uses.value !== './' && !uses.value.startsWith('rsync-atomic-deploy/rsync-atomic-deploy@')) continue
      const given = new Set<string>()
      const withs = get(step, 'with')
      if (withs && isMapping(withs)) {
        for (let w = 0; w < withs.count; w++) given.add(withs.get(w).key.toString())
      }
      const where = `${file}: job ${job.key.toString()}, step ${s + 1}`
      for (const g of given) if (!ACTION.inputs.has(g)) problems.push(`${where}: unknown input '${g}'`)
      for (const [name, required] of ACTION.inputs) {
        if (required && !given.has(name)) problems.push(`${where}: required input '${name}' missing`)
      }
    }
  }
  return problems
}

/** Everything wrong with one workflow file: schema, expressions, job graph, inputs of this action. */
async function workflowErrors(name: string, content: string): Promise<string[]> {
  const parsed = parseWorkflow({ name, content }, new NoOperationTraceWriter())
  const errors = parsed.context.errors.getErrors().map((e) => e.message)
  if (!parsed.value) return errors.length ? errors : [`${name}: not a workflow`]
  const template = await convertWorkflowTemplate(parsed.context, parsed.value)
  for (const e of template.errors ?? []) if (!errors.includes(e.Message)) errors.push(e.Message)
  return [...errors, ...inputProblems(parsed.value, name)]
}

/** The README's ```yaml blocks that are GitHub workflows (a top-level `jobs:`), with their line. */
function readmeWorkflows(markdown: string): { line: number; content: string }[] {
  const blocks: { line: number; content: string }[] = []
  const re = /^```ya?ml\n([\s\S]*?)^```$/gm
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) {
    const content = m[1] ?? ''
    if (/^jobs:/m.test(content)) blocks.push({ line: markdown.slice(0, m.index).split('\n').length, content })
  }
  return blocks
}

describe('action.yml', () => {
  it("is valid by GitHub's action schema", () => {
    expect(ACTION.errors).toEqual([])
    expect(ACTION.inputs.get('host')).toBe(true)
    expect(ACTION.inputs.get('command')).toBe(false)
  })

  it('runs the committed bundle on node24, for the main and the post step', () => {
    const parsed = parseAction(
      { name: 'action.yml', content: read('action.yml') },
      new NoOperationTraceWriter(),
    )
    const action = convertActionTemplate(parsed.context, parsed.value as TemplateToken)
    expect(action.runs).toMatchObject({ using: 'node24', main: 'dist/index.js', post: 'dist/index.js' })
    expect(action.author).toBe('rsync-atomic-deploy contributors')
  })

  it('a broken manifest fails', () => {
    const broken = readAction(read('action.yml').replace('using: node24', 'usin: node24'))
    expect(broken.errors.join('\n')).toMatch(/Unexpected value 'usin'/)
  })
})

describe('workflows', () => {
  const dir = path.join(ROOT, '.github/workflows')
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))

  it('the repository has CI and release workflows', () => {
    expect(files).toEqual(expect.arrayContaining(['ci.yml', 'release.yml']))
  })

  for (const f of files) {
    it(`.github/workflows/${f} parses without errors`, async () => {
      expect(await workflowErrors(f, readFileSync(path.join(dir, f), 'utf8'))).toEqual([])
    })
  }

  it('the CI end-to-end job runs the action itself and checks its outputs', () => {
    const ci = read('.github/workflows/ci.yml')
    expect(ci).toMatch(/uses: \.\/\n/)
    for (const c of ['rollback', 'list']) expect(ci).toContain(`command: ${c}`)
    expect(ci).toContain('steps.v1.outputs.release-id')
    expect(ci).toContain('bash scripts/test.sh')
  })
})

describe('README examples', () => {
  const readme = read('README.md')
  const blocks = readmeWorkflows(readme)

  it('finds the workflow examples (and leaves the GitLab CI one alone)', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3)
    expect(blocks.some((b) => b.content.includes('.gitlab-ci.yml'))).toBe(false)
  })

  for (const b of blocks) {
    it(`the workflow at README.md line ${b.line} parses without errors`, async () => {
      expect(await workflowErrors(`README.md:${b.line}`, b.content)).toEqual([])
    })
  }
})

describe('a broken example fails', () => {
  const good = readmeWorkflows(read('README.md'))[0]?.content ?? ''

  it('the first README example is good to start from', async () => {
    expect(await workflowErrors('good.yml', good)).toEqual([])
  })

  it('a misspelt key', async () => {
    const errors = await workflowErrors('bad.yml', good.replace('runs-on:', 'runs-onn:'))
    expect(errors.join('\n')).toMatch(/Unexpected value 'runs-onn'/)
  })

  it('an expression left open', async () => {
    const errors = await workflowErrors(
      'bad.yml',
      good.replace('${{ secrets.DEPLOY_KEY }}', '${{ secrets.DEPLOY_KEY'),
    )
    expect(errors.join('\n')).toMatch(/expression is not closed/)
  })

  it('bad indentation', async () => {
    const errors = await workflowErrors('bad.yml', good.replace('    steps:', '  steps:'))
    expect(errors).not.toEqual([])
  })

  it('an input the action does not have, and a required one missing', async () => {
    const errors = await workflowErrors(
      'bad.yml',
      good.replace('          host: deploy@example.com\n', '          hots: deploy@example.com\n'),
    )
    expect(errors.some((e) => e.includes("unknown input 'hots'"))).toBe(true)
    expect(errors.some((e) => e.includes("required input 'host' missing"))).toBe(true)
  })
})
