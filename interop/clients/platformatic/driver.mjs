// interop/clients/platformatic/driver.mjs: the interop matrix driver for
// @platformatic/kafka (pinned in package.json + package-lock.json; the 1.x line, whose
// engines include this machine's Node 20). interop/clients/matrix-lib.sh copies it next
// to the installed node_modules and runs it there.
//
//   node driver.mjs <bootstrap> <scenario> <topic-prefix>
//
// Implements interop/scenarios/scenarios.txt; ends with one PASS/FAIL/SKIP line (exit
// 0/1/0). The client consumes only through a consumer group, so every read joins a
// fresh group (matrix.sh shows those cells "not yet" while skiffd has no groups). Its
// headers are a Map (no duplicate names), and its zstd codec needs zlib zstd, which
// Node 20 lacks: both limits are the client's and reported as such.
import zlib from 'node:zlib'
import { Admin, Consumer, Producer } from '@platformatic/kafka'

const [BOOT, SCN, PREFIX] = process.argv.slice(2)
const DEFAULTS = { produce_consume: 1000, keyed_6p: 1200, idempotent: 1000 }
const RECORDS = Number(process.env.SCN_RECORDS || DEFAULTS[SCN] || 2000)
const base = { clientId: 'skiff-matrix', bootstrapBrokers: [BOOT] }

class Fail extends Error {}
class Skip extends Error {}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const str = (b) => (b === null || b === undefined ? null : b.toString())
const errText = (e) => `${e.message}${e.errors ? ' ' + e.errors.map((x) => x.message).join('; ') : ''}`
const B = (s) => (s === null ? null : Buffer.from(s))

async function leaders (admin, topic) {
  try {
    const md = await admin.metadata({ topics: [topic] })
    const t = md.topics.get(topic)
    return t.partitions.filter((p) => p.leader >= 0).length
  } catch (e) { return -1 }
}

async function createTopic (topic, partitions) {
  const admin = new Admin(base)
  try {
    await admin.createTopics({ topics: [topic], partitions, replicas: 1 })
    let n = -1
    for (const end = Date.now() + 15000; Date.now() < end; await sleep(200)) {
      n = await leaders(admin, topic)
      if (n === partitions) return
    }
    throw new Fail(`Metadata for ${topic}: ${n} partitions with leaders, want ${partitions}`)
  } catch (e) {
    throw e instanceof Fail ? e : new Fail(`CreateTopics ${topic}: ${errText(e)}`)
  } finally { await admin.close() }
}

async function produce (messages, opts = {}) {
  const p = new Producer({ ...base, acks: -1, ...opts })
  try {
    // fresh metadata first: a send that meets a stale leader is repeated whole, which
    // duplicates the records of the partitions that had taken it already
    await p.metadata({ topics: [...new Set(messages.map((m) => m.topic))] })
    for (let i = 0; i < messages.length; i += 500) await p.send({ messages: messages.slice(i, i + 500) })
  } catch (e) { throw new Fail(`Produce: ${errText(e)}`) } finally { await p.close() }
}

// reads the topic from the start with a fresh group until expect records, then 0.5 s
// more; sorted by partition and offset
async function readAll (topic, expect, opts = {}) {
  const c = new Consumer({ ...base, groupId: `${PREFIX}-read-${Math.random()}`, ...opts })
  const seen = new Map()
  try {
    const stream = await c.consume({ topics: [topic], mode: 'earliest', autocommit: false })
    // the stream starts again from the earliest offset when the fresh group settles
    // after a rejoin: a record seen twice must be the same record, and counts once
    stream.on('data', (m) => {
      const id = `${m.partition}:${m.offset}`
      const prev = seen.get(id)
      if (prev && (str(prev.value) !== str(m.value) || str(prev.key) !== str(m.key))) seen.set(id, { bad: true })
      else if (!prev) seen.set(id, m)
    })
    for (const end = Date.now() + 30000; seen.size < expect && Date.now() < end;) await sleep(100)
    await sleep(500)
    await stream.close()
  } catch (e) { throw new Fail(`consume: ${errText(e)}`) } finally { await c.close(true) }
  const out = [...seen.values()]
  if (out.some((m) => m.bad)) throw new Fail(`Fetch: one offset of ${topic} came back with two contents`)
  if (out.length !== expect) throw new Fail(`Fetch: read ${out.length} records from ${topic}, want ${expect}`)
  out.sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset))
  return out
}

async function metadataAdmin () {
  const t = `${PREFIX}-adm`
  await createTopic(t, 3)
  const admin = new Admin(base)
  try {
    let dup = null
    try { await admin.createTopics({ topics: [t], partitions: 3, replicas: 1 }) } catch (e) { dup = e }
    const text = dup ? JSON.stringify(dup, Object.getOwnPropertyNames(dup)) + errText(dup) : ''
    if (!dup) throw new Fail('CreateTopics of an existing topic succeeded, want TOPIC_ALREADY_EXISTS')
    if (!/TOPIC_ALREADY_EXISTS|already exists|"errorCode":36|"code":36/i.test(text)) {
      throw new Fail(`CreateTopics duplicate: ${errText(dup)}, want TOPIC_ALREADY_EXISTS`)
    }
    try { await admin.deleteTopics({ topics: [t] }) } catch (e) { throw new Fail(`DeleteTopics: ${errText(e)}`) }
    for (const end = Date.now() + 15000; Date.now() < end; await sleep(200)) {
      if (!(await admin.listTopics()).includes(t)) return 'create 3 partitions, duplicate -> TOPIC_ALREADY_EXISTS, delete'
    }
    throw new Fail('Metadata still lists the topic 15 s after DeleteTopics')
  } finally { await admin.close() }
}

async function produceConsume () {
  const t = `${PREFIX}-pc`
  await createTopic(t, 1)
  const msgs = []
  for (let i = 0; i < RECORDS; i++) msgs.push({ topic: t, partition: 0, key: B(`k${i}`), value: B(`v${i}`) })
  await produce(msgs)
  ;(await readAll(t, RECORDS)).forEach((m, i) => {
    if (Number(m.offset) !== i || str(m.key) !== `k${i}` || str(m.value) !== `v${i}`) {
      throw new Fail(`record ${i}: offset ${m.offset} key ${str(m.key)} value ${str(m.value)}`)
    }
  })
  return `${RECORDS} records in order at offsets 0..${RECORDS - 1}`
}

async function keyed (suffix, partitions, nkeys, opts) {
  const t = `${PREFIX}-${suffix}`
  await createTopic(t, partitions)
  const msgs = []
  for (let i = 0; i < RECORDS; i++) {
    const k = `key-${i % nkeys}`
    msgs.push({ topic: t, key: B(k), value: B(`${k}#${Math.floor(i / nkeys)}`) })
  }
  await produce(msgs, opts)
  const where = {}; const next = {}
  for (const m of await readAll(t, RECORDS)) {
    const k = str(m.key)
    if (where[k] !== undefined && where[k] !== m.partition) throw new Fail(`key ${k} in partitions ${where[k]} and ${m.partition}`)
    where[k] = m.partition
    const want = `${k}#${next[k] || 0}`
    if (str(m.value) !== want) throw new Fail(`key ${k} p${m.partition}@${m.offset}: ${str(m.value)}, want ${want}`)
    next[k] = (next[k] || 0) + 1
  }
  return `${RECORDS} records, ${nkeys} keys over ${new Set(Object.values(where)).size} partitions, per-key order kept`
}

async function headersNulls () {
  const t = `${PREFIX}-hdr`
  await createTopic(t, 1)
  const hdrs = new Map([[B('h1'), B('a')], [B('h2'), Buffer.from([0, 0xff, 0x7f])], [B('empty'), Buffer.alloc(0)]])
  await produce([{ topic: t, partition: 0, value: B('v0') }, { topic: t, partition: 0, key: B('k1') },
    { topic: t, partition: 0 }, { topic: t, partition: 0, key: B('k3'), value: B('v3'), headers: hdrs }])
  const got = await readAll(t, 4)
  const want = [[null, 'v0'], ['k1', null], [null, null], ['k3', 'v3']]
  const nul = (b) => (b === undefined || b === null || (Buffer.isBuffer(b) && b.length === 0 && b.isNull)) ? null : b
  got.forEach((m, i) => {
    if (str(nul(m.key)) !== want[i][0] || str(nul(m.value)) !== want[i][1]) {
      throw new Fail(`record ${i}: key ${JSON.stringify(str(m.key))} value ${JSON.stringify(str(m.value))}, want ${JSON.stringify(want[i])}`)
    }
  })
  const h = [...(got[3].headers || new Map()).entries()].map(([k, v]) => [str(k), v.toString('hex')])
  if (JSON.stringify(h) !== JSON.stringify([['h1', '61'], ['h2', '00ff7f'], ['empty', '']])) {
    throw new Fail(`record 3 headers ${JSON.stringify(h)}`)
  }
  return 'null key/value stay null, headers h1, binary h2, empty value in order (a Map: no duplicate names)'
}

async function compression (codec) {
  if (codec === 'zstd' && !zlib.zstdCompressSync) throw new Skip(`zstd needs zlib zstd, which Node ${process.version} lacks`)
  const t = `${PREFIX}-z`
  await createTopic(t, 1)
  const xs = 'x'.repeat(100)
  const msgs = []
  for (let i = 0; i < RECORDS; i++) msgs.push({ topic: t, partition: 0, value: B(`value-${i}-${xs}`) })
  await produce(msgs, { compression: codec })
  ;(await readAll(t, RECORDS)).forEach((m, i) => {
    if (str(m.value) !== `value-${i}-${xs}`) throw new Fail(`record ${i}: value differs`)
  })
  return `${RECORDS} ${codec} records read back in order`
}

function rangeMsgs (t, lo, hi) {
  return Array.from({ length: hi - lo }, (_, j) => ({ topic: t, partition: (lo + j) % 4, value: B(`r${lo + j}`) }))
}

async function member (name, topic) {
  const c = new Consumer({ ...base, clientId: name, groupId: `${PREFIX}-g`, sessionTimeout: 10000, heartbeatInterval: 500 })
  const m = { name, c, got: [], last: {} }
  m.open = async () => {
    m.stream = await c.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false })
    m.stream.on('data', (msg) => { m.got.push(str(msg.value)); m.last[msg.partition] = msg })
  }
  await m.open()
  m.parts = () => ((c.assignments || []).find((a) => a.topic === topic) || { partitions: [] }).partitions.slice().sort()
  return m
}

async function commit (m) {
  try {
    for (const msg of Object.values(m.last)) await msg.commit()
  } catch (e) { throw new Fail(`OffsetCommit by ${m.name}: ${errText(e)}`) }
  m.last = {}
}

async function waitFor (cond, ms) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (cond()) return true
  return cond()
}

const sameSet = (got, lo, hi) => got.length === hi - lo &&
  [...got].sort().join() === Array.from({ length: hi - lo }, (_, i) => `r${lo + i}`).sort().join()

async function groupCommit () {
  const t = `${PREFIX}-grp`
  await createTopic(t, 4)
  await produce(rangeMsgs(t, 0, 400))
  const a = await member('A', t)
  // before anything is committed a rejoin of the fresh group legitimately delivers
  // records again (this client rejoins once after its first join): count them once
  await waitFor(() => new Set(a.got).size >= 400, 45000)
  a.got = [...new Set(a.got)]
  if (!sameSet(a.got, 0, 400)) throw new Fail(`step 1: A read ${a.got.length} records, want the 400 produced`)
  await commit(a)
  a.got = []
  const b = await member('B', t)
  const split = () => a.parts().length && b.parts().length && a.parts().length + b.parts().length === 4 &&
    !a.parts().some((p) => b.parts().includes(p))
  if (!(await waitFor(split, 45000))) throw new Fail(`step 2: no rebalance to two members: A ${a.parts()}, B ${b.parts()}`)
  await sleep(500)
  if (a.got.length || b.got.length) throw new Fail(`step 2: committed records delivered again: ${a.got.concat(b.got)}`)
  // A's first stream keeps fetching the partitions it had before the rebalance (seen
  // with 1.35.0 against Apache Kafka too): read on through a fresh stream
  await a.stream.close()
  await a.open()
  if (!(await waitFor(split, 45000))) throw new Fail(`step 2: no two-member assignment after A reopened: A ${a.parts()}, B ${b.parts()}`)
  await produce(rangeMsgs(t, 400, 440))
  await waitFor(() => a.got.length + b.got.length >= 40, 45000)
  if (!sameSet(a.got.concat(b.got), 400, 440)) throw new Fail(`step 3: A+B read ${a.got.length + b.got.length} records, want exactly r400..r439: A ${[...a.got].sort()} B ${[...b.got].sort()}`)
  await commit(a)
  await commit(b)
  const parts = `A=[${a.parts()}] B=[${b.parts()}]`
  for (const m of [a, b]) { await m.stream.close(); await m.c.close() }
  await produce(rangeMsgs(t, 440, 448))
  const c = await member('C', t)
  await waitFor(() => c.got.length >= 8, 45000)
  await sleep(1000)
  await c.stream.close()
  await c.c.close(true)
  if (!sameSet(c.got, 440, 448)) throw new Fail(`step 4: C read ${c.got}, want exactly r440..r447`)
  return `rebalance ${parts}, commits resumed by C`
}

async function transactions () {
  const t = `${PREFIX}-txn`
  await createTopic(t, 1)
  const p = new Producer({ ...base, acks: -1, idempotent: true, transactionalId: `${PREFIX}-tx` })
  try {
    for (const [tag, ok] of [['c1', true], ['a', false], ['c2', true]]) {
      const tx = await p.beginTransaction()
      await tx.send({ messages: Array.from({ length: 10 }, (_, i) => ({ topic: t, partition: 0, value: B(`${tag}-${i}`) })) })
      if (ok) await tx.commit(); else await tx.abort()
    }
  } catch (e) { throw new Fail(`transactional producer: ${errText(e)}`) } finally { await p.close() }
  const got = (await readAll(t, 20, { isolationLevel: 1 })).map((m) => str(m.value))
  const want = Array.from({ length: 10 }, (_, i) => `c1-${i}`).concat(Array.from({ length: 10 }, (_, i) => `c2-${i}`))
  if (got.join() !== want.join()) throw new Fail(`read_committed read ${got}`)
  return 'read_committed sees the two committed transactions only, in order'
}

async function main () {
  const fns = {
    metadata_admin: metadataAdmin,
    produce_consume: produceConsume,
    // its non-idempotent producer repeats a whole multi-partition send after a
    // retriable error, duplicating what some partitions had taken (seen against
    // Apache Kafka): the keyed scenario produces idempotently with this client
    keyed_6p: () => keyed('keyed', 6, 24, { idempotent: true }),
    headers_nulls: headersNulls,
    idempotent: () => keyed('idem', 3, 30, { idempotent: true }),
    group_commit: groupCommit,
    transactions
  }
  let fn = fns[SCN]
  if (!fn && SCN.startsWith('compression_')) fn = () => compression(SCN.slice(12))
  if (!fn) { console.log(`FAIL ${SCN}: unknown scenario`); return 1 }
  try {
    console.log(`PASS ${SCN}: ${await fn()}`)
    return 0
  } catch (e) {
    if (e instanceof Skip) { console.log(`SKIP ${SCN}: ${e.message}`); return 0 }
    console.log(`FAIL ${SCN}: ${e instanceof Fail ? e.message : (e.stack || String(e)).split('\n')[0]}`)
    return 1
  }
}

main().then((rc) => process.exit(rc))
