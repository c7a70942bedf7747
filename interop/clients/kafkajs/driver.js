// interop/clients/kafkajs/driver.js: the interop matrix driver for KafkaJS (pinned in
// package.json + package-lock.json; snappy, lz4 and zstd codecs registered from the
// pinned codec packages). interop/clients/matrix-lib.sh copies it next to the
// installed node_modules and runs it there.
//
//   node driver.js <bootstrap> <scenario> <topic-prefix>
//
// Implements interop/scenarios/scenarios.txt; ends with one PASS/FAIL line (exit 0/1).
// KafkaJS can consume only through a consumer group, so every read here joins a fresh
// group (matrix.sh shows those cells "not yet" while skiffd has no groups). KafkaJS
// keeps headers in an object (duplicates grouped under one name), so header order
// across names is not observable with this client.
'use strict'
const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
const LZ4Codec = require('kafkajs-lz4')
const { ZstdCodec } = require('zstd-codec')

const [BOOT, SCN, PREFIX] = process.argv.slice(2)
const DEFAULTS = { produce_consume: 1000, keyed_6p: 1200, idempotent: 1000 }
const RECORDS = Number(process.env.SCN_RECORDS || DEFAULTS[SCN] || 2000)
const kafka = new Kafka({ clientId: 'skiff-matrix', brokers: [BOOT], logLevel: logLevel.NOTHING })

class Fail extends Error {}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function zstdCodec () {
  const simple = new Promise((resolve) => ZstdCodec.run((z) => resolve(new z.Simple())))
  return () => ({
    async compress (encoder) { return Buffer.from((await simple).compress(encoder.buffer)) },
    async decompress (buffer) { return Buffer.from((await simple).decompress(buffer)) }
  })
}
CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
CompressionCodecs[CompressionTypes.LZ4] = new LZ4Codec().codec
CompressionCodecs[CompressionTypes.ZSTD] = zstdCodec()

async function withAdmin (fn) {
  const admin = kafka.admin()
  await admin.connect()
  try { return await fn(admin) } finally { await admin.disconnect() }
}

async function leaders (admin, topic) {
  try {
    const md = await admin.fetchTopicMetadata({ topics: [topic] })
    return md.topics[0].partitions.filter((p) => p.leader >= 0).length
  } catch (e) { return -1 }
}

async function createTopic (topic, partitions) {
  await withAdmin(async (admin) => {
    let created
    try {
      created = await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] })
    } catch (e) { throw new Fail(`CreateTopics ${topic}: ${e.message}`) }
    if (!created) throw new Fail(`CreateTopics ${topic}: reported as existing already`)
    let n = -1
    for (const end = Date.now() + 15000; Date.now() < end; await sleep(200)) {
      n = await leaders(admin, topic)
      if (n === partitions) return
    }
    throw new Fail(`Metadata for ${topic}: ${n} partitions with leaders, want ${partitions}`)
  })
}

async function produce (topic, messages, opts = {}, send = {}) {
  const p = kafka.producer(opts)
  await p.connect()
  try {
    for (let i = 0; i < messages.length; i += 500) {
      await p.send({ topic, acks: -1, messages: messages.slice(i, i + 500), ...send })
    }
  } catch (e) { throw new Fail(`Produce: ${e.message}`) } finally { await p.disconnect() }
}

// reads the topic from the start with a fresh group until expect records, then 0.5 s
// more; sorted by partition and offset
async function readAll (topic, expect, opts = {}) {
  const c = kafka.consumer({ groupId: `${PREFIX}-read-${Math.random()}`, ...opts })
  const out = []
  await c.connect()
  try {
    await c.subscribe({ topics: [topic], fromBeginning: true })
    await c.run({ autoCommit: false, eachMessage: async ({ partition, message }) => { out.push({ partition, ...message }) } })
    for (const end = Date.now() + 30000; out.length < expect && Date.now() < end;) await sleep(100)
    await sleep(500)
  } catch (e) { throw new Fail(`consume: ${e.message}`) } finally { await c.disconnect() }
  if (out.length !== expect) throw new Fail(`Fetch: read ${out.length} records from ${topic}, want ${expect}`)
  out.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset))
  return out
}

const str = (b) => (b === null || b === undefined ? null : b.toString())

async function metadataAdmin () {
  const t = `${PREFIX}-adm`
  await createTopic(t, 3)
  await withAdmin(async (admin) => {
    // KafkaJS answers TOPIC_ALREADY_EXISTS (36) by returning false
    const again = await admin.createTopics({ topics: [{ topic: t, numPartitions: 3, replicationFactor: 1 }] })
    if (again !== false) throw new Fail('CreateTopics of an existing topic succeeded, want TOPIC_ALREADY_EXISTS')
    try { await admin.deleteTopics({ topics: [t] }) } catch (e) { throw new Fail(`DeleteTopics: ${e.message}`) }
    for (const end = Date.now() + 15000; Date.now() < end; await sleep(200)) {
      if (!(await admin.listTopics()).includes(t)) return
    }
    throw new Fail('Metadata still lists the topic 15 s after DeleteTopics')
  })
  return 'create 3 partitions, duplicate -> TOPIC_ALREADY_EXISTS, delete'
}

async function produceConsume () {
  const t = `${PREFIX}-pc`
  await createTopic(t, 1)
  const msgs = []
  for (let i = 0; i < RECORDS; i++) msgs.push({ partition: 0, key: `k${i}`, value: `v${i}` })
  await produce(t, msgs)
  const got = await readAll(t, RECORDS)
  got.forEach((m, i) => {
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
    msgs.push({ key: k, value: `${k}#${Math.floor(i / nkeys)}` })
  }
  await produce(t, msgs, opts)
  const where = {}; const next = {}
  for (const m of await readAll(t, RECORDS)) {
    const k = str(m.key)
    if (where[k] !== undefined && where[k] !== m.partition) throw new Fail(`key ${k} in partitions ${where[k]} and ${m.partition}`)
    where[k] = m.partition
    const want = `${k}#${next[k] || 0}`
    if (str(m.value) !== want) throw new Fail(`key ${k} p${m.partition}@${m.offset}: ${str(m.value)}, want ${want}`)
    next[k] = (next[k] || 0) + 1
  }
  const used = new Set(Object.values(where)).size
  return `${RECORDS} records, ${nkeys} keys over ${used} partitions, per-key order kept`
}

async function headersNulls () {
  const t = `${PREFIX}-hdr`
  await createTopic(t, 1)
  const hdrs = { h1: ['a', 'b'], h2: Buffer.from([0, 0xff, 0x7f]), empty: '' }
  await produce(t, [{ partition: 0, key: null, value: 'v0' }, { partition: 0, key: 'k1', value: null },
    { partition: 0, key: null, value: null }, { partition: 0, key: 'k3', value: 'v3', headers: hdrs }])
  const got = await readAll(t, 4)
  const want = [[null, 'v0'], ['k1', null], [null, null], ['k3', 'v3']]
  got.forEach((m, i) => {
    if (str(m.key) !== want[i][0] || str(m.value) !== want[i][1]) throw new Fail(`record ${i}: key ${str(m.key)} value ${str(m.value)}`)
    if (i < 3 && Object.keys(m.headers || {}).length) throw new Fail(`record ${i} has headers`)
  })
  const h = got[3].headers
  const h1 = Array.isArray(h.h1) ? h.h1.map(str) : [str(h.h1)]
  if (h1.join() !== 'a,b' || !Buffer.from([0, 0xff, 0x7f]).equals(h.h2 || Buffer.alloc(0)) ||
      str(h.empty) !== '' || Object.keys(h).length !== 3) {
    throw new Fail(`record 3 headers ${JSON.stringify(h)}`)
  }
  return 'null key/value stay null; headers h1=[a,b], binary h2, empty value (as an object: KafkaJS groups duplicates)'
}

async function compression (codec) {
  const t = `${PREFIX}-z`
  await createTopic(t, 1)
  const type = { gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD }[codec]
  const xs = 'x'.repeat(100)
  const msgs = []
  for (let i = 0; i < RECORDS; i++) msgs.push({ partition: 0, value: `value-${i}-${xs}` })
  await produce(t, msgs, {}, { compression: type })
  ;(await readAll(t, RECORDS)).forEach((m, i) => {
    if (str(m.value) !== `value-${i}-${xs}`) throw new Fail(`record ${i}: value differs`)
  })
  return `${RECORDS} ${codec} records read back in order`
}

module.exports = { kafka, Fail, sleep, str, createTopic, produce, readAll }
const { groupCommit, transactions } = require('./driver_group.js')

async function main () {
  const fns = {
    metadata_admin: metadataAdmin,
    produce_consume: produceConsume,
    keyed_6p: () => keyed('keyed', 6, 24, {}),
    headers_nulls: headersNulls,
    idempotent: () => keyed('idem', 3, 30, { idempotent: true, maxInFlightRequests: 1 }),
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
    console.log(`FAIL ${SCN}: ${e instanceof Fail ? e.message : e.stack.split('\n')[0]}`)
    return 1
  }
}

main().then((rc) => process.exit(rc))
