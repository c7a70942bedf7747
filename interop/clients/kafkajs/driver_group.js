// interop/clients/kafkajs/driver_group.js: the group_commit and transactions scenarios
// of the KafkaJS matrix driver (see driver.js and interop/scenarios/scenarios.txt).
// KafkaJS consumers run in the background (consumer.run); this file records what each
// member received and its assignment from GROUP_JOIN events, and commits explicitly.
'use strict'
const { kafka, Fail, sleep, str, createTopic, produce, readAll } = require('./driver.js')

const PREFIX = process.argv[4]

function rangeMsgs (lo, hi) {
  const out = []
  for (let i = lo; i < hi; i++) out.push({ partition: i % 4, value: `r${i}` })
  return out
}

async function member (name, topic) {
  const c = kafka.consumer({ groupId: `${PREFIX}-g`, sessionTimeout: 10000, heartbeatInterval: 500, rebalanceTimeout: 20000 })
  const m = { name, c, got: [], next: {}, parts: [] }
  c.on(c.events.GROUP_JOIN, (e) => { m.parts = (e.payload.memberAssignment[topic] || []).slice().sort() })
  await c.connect()
  await c.subscribe({ topics: [topic], fromBeginning: true })
  await c.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      m.got.push(str(message.value))
      m.next[partition] = (BigInt(message.offset) + 1n).toString()
    }
  })
  return m
}

async function commit (m) {
  const offsets = Object.entries(m.next).map(([p, offset]) => ({ topic: `${PREFIX}-grp`, partition: Number(p), offset }))
  try {
    if (offsets.length) await m.c.commitOffsets(offsets)
  } catch (e) { throw new Fail(`OffsetCommit by ${m.name}: ${e.message}`) }
  m.next = {}
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
  await produce(t, rangeMsgs(0, 400))
  const a = await member('A', t)
  await waitFor(() => a.got.length >= 400, 45000)
  if (!sameSet(a.got, 0, 400)) throw new Fail(`step 1: A read ${a.got.length} records, want the 400 produced`)
  await commit(a)
  a.got = []
  const b = await member('B', t)
  const split = () => a.parts.length && b.parts.length && a.parts.length + b.parts.length === 4 &&
    !a.parts.some((p) => b.parts.includes(p))
  if (!(await waitFor(split, 45000))) throw new Fail(`step 2: no rebalance to two members: A ${a.parts}, B ${b.parts}`)
  await sleep(500)
  if (a.got.length || b.got.length) throw new Fail(`step 2: committed records delivered again: ${a.got.concat(b.got)}`)
  await produce(t, rangeMsgs(400, 440))
  await waitFor(() => a.got.length + b.got.length >= 40, 45000)
  if (!sameSet(a.got.concat(b.got), 400, 440)) throw new Fail(`step 3: A+B read ${a.got.length + b.got.length} records, want exactly r400..r439`)
  await commit(a)
  await commit(b)
  const parts = `A=[${a.parts}] B=[${b.parts}]`
  await a.c.disconnect()
  await b.c.disconnect()
  await produce(t, rangeMsgs(440, 448))
  const c = await member('C', t)
  await waitFor(() => c.got.length >= 8, 45000)
  await sleep(1000)
  await c.c.disconnect()
  if (!sameSet(c.got, 440, 448)) throw new Fail(`step 4: C read ${c.got}, want exactly r440..r447`)
  return `rebalance ${parts}, commits resumed by C`
}

async function transactions () {
  const t = `${PREFIX}-txn`
  await createTopic(t, 1)
  const p = kafka.producer({ transactionalId: `${PREFIX}-tx`, idempotent: true, maxInFlightRequests: 1 })
  await p.connect()
  try {
    for (const [tag, ok] of [['c1', true], ['a', false], ['c2', true]]) {
      const tx = await p.transaction()
      const messages = Array.from({ length: 10 }, (_, i) => ({ partition: 0, value: `${tag}-${i}` }))
      await tx.send({ topic: t, acks: -1, messages })
      if (ok) await tx.commit(); else await tx.abort()
    }
  } catch (e) { throw new Fail(`transactional producer: ${e.message}`) } finally { await p.disconnect() }
  const got = (await readAll(t, 20, { readUncommitted: false })).map((m) => str(m.value))
  const want = Array.from({ length: 10 }, (_, i) => `c1-${i}`).concat(Array.from({ length: 10 }, (_, i) => `c2-${i}`))
  if (got.join() !== want.join()) throw new Fail(`read_committed read ${got}`)
  return 'read_committed sees the two committed transactions only, in order'
}

module.exports = { groupCommit, transactions }
