/* interop/clients/java/Driver.java: the interop matrix driver for the Java client
 * (org.apache.kafka:kafka-clients, pinned in pom.xml), compiled with javac by
 * interop/clients/matrix-lib.sh.
 *
 *   java -cp ... Driver <bootstrap> <scenario> <topic-prefix>
 *
 * Implements interop/scenarios/scenarios.txt with the client's default settings except
 * where a scenario names one; ends with exactly one PASS/FAIL line (exit 0/1). Every
 * wait is bounded; a client exception is reported as FAIL with its message. */
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class Driver {
    static final class Fail extends Exception {
        Fail(String m) { super(m); }
    }

    static String boot, scn, prefix;
    static int records;
    static Admin admin;

    static byte[] b(String s) { return s == null ? null : s.getBytes(StandardCharsets.UTF_8); }
    static String s(byte[] b) { return b == null ? null : new String(b, StandardCharsets.UTF_8); }

    static Properties props(String... kv) {
        Properties p = new Properties();
        p.put("bootstrap.servers", boot);
        for (int i = 0; i + 1 < kv.length; i += 2) p.put(kv[i], kv[i + 1]);
        return p;
    }

    static int leaders(String topic) throws Exception {
        try {
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames()
                .get(10, TimeUnit.SECONDS).get(topic);
            return (int) d.partitions().stream().filter(p -> p.leader() != null).count();
        } catch (ExecutionException e) {
            return -1;
        }
    }

    static void createTopic(String topic, int partitions) throws Exception {
        try {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all()
                .get(20, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new Fail("CreateTopics " + topic + ": " + e.getCause());
        }
        long deadline = System.currentTimeMillis() + 15000;
        int n = -1;
        while (System.currentTimeMillis() < deadline) {
            n = leaders(topic);
            if (n == partitions) return;
            Thread.sleep(200);
        }
        throw new Fail("Metadata for " + topic + ": " + n + " partitions with leaders, want "
                       + partitions);
    }

    static KafkaProducer<byte[], byte[]> producer(String... kv) {
        Properties p = props("acks", "all", "linger.ms", "20");
        p.putAll(props(kv));
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    static void produce(List<ProducerRecord<byte[], byte[]>> recs, String... kv) throws Exception {
        try (KafkaProducer<byte[], byte[]> p = producer(kv)) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (ProducerRecord<byte[], byte[]> r : recs) fs.add(p.send(r));
            p.flush();
            for (Future<RecordMetadata> f : fs) {
                try {
                    f.get(30, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    throw new Fail("Produce: " + e.getCause());
                }
            }
        }
    }

    static List<ConsumerRecord<byte[], byte[]>> readAll(String topic, int partitions, int expect,
                                                        String... kv) throws Fail {
        Properties p = props("enable.auto.commit", "false", "auto.offset.reset", "earliest");
        p.putAll(props(kv));
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p,
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int i = 0; i < partitions; i++) tps.add(new TopicPartition(topic, i));
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.currentTimeMillis() + 30000;
            while (out.size() < expect && System.currentTimeMillis() < deadline)
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            long end = System.currentTimeMillis() + 500;
            while (System.currentTimeMillis() < end) c.poll(Duration.ofMillis(200)).forEach(out::add);
        }
        if (out.size() != expect)
            throw new Fail("Fetch: read " + out.size() + " records from " + topic + ", want " + expect);
        out.sort(Comparator.comparingInt((ConsumerRecord<byte[], byte[]> r) -> r.partition())
                 .thenComparingLong(ConsumerRecord::offset));
        return out;
    }

    static String metadataAdmin() throws Exception {
        String t = prefix + "-adm";
        createTopic(t, 3);
        try {
            admin.createTopics(List.of(new NewTopic(t, 3, (short) 1))).all().get(20, TimeUnit.SECONDS);
            throw new Fail("CreateTopics of an existing topic succeeded, want TOPIC_ALREADY_EXISTS");
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException))
                throw new Fail("CreateTopics duplicate: " + e.getCause() + ", want TOPIC_ALREADY_EXISTS");
        }
        try {
            admin.deleteTopics(List.of(t)).all().get(20, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new Fail("DeleteTopics: " + e.getCause());
        }
        long deadline = System.currentTimeMillis() + 15000;
        while (System.currentTimeMillis() < deadline) {
            if (!admin.listTopics().names().get(10, TimeUnit.SECONDS).contains(t))
                return "create 3 partitions, duplicate -> TOPIC_ALREADY_EXISTS, delete";
            Thread.sleep(200);
        }
        throw new Fail("Metadata still lists the topic 15 s after DeleteTopics");
    }

    static String produceConsume() throws Exception {
        String t = prefix + "-pc";
        createTopic(t, 1);
        List<ProducerRecord<byte[], byte[]>> recs = new ArrayList<>();
        for (int i = 0; i < records; i++) recs.add(new ProducerRecord<>(t, 0, b("k" + i), b("v" + i)));
        produce(recs);
        List<ConsumerRecord<byte[], byte[]>> got = readAll(t, 1, records);
        for (int i = 0; i < got.size(); i++) {
            ConsumerRecord<byte[], byte[]> r = got.get(i);
            if (r.offset() != i || !("k" + i).equals(s(r.key())) || !("v" + i).equals(s(r.value())))
                throw new Fail("record " + i + ": offset " + r.offset() + " key " + s(r.key()));
        }
        return records + " records in order at offsets 0.." + (records - 1);
    }

    static List<ProducerRecord<byte[], byte[]>> keyed(String t, int nkeys) {
        List<ProducerRecord<byte[], byte[]>> recs = new ArrayList<>();
        for (int i = 0; i < records; i++) {
            String k = "key-" + (i % nkeys);
            recs.add(new ProducerRecord<>(t, b(k), b(k + "#" + (i / nkeys))));
        }
        return recs;
    }

    static int checkKeyed(List<ConsumerRecord<byte[], byte[]>> got) throws Fail {
        Map<String, Integer> where = new HashMap<>(), next = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : got) {
            String k = s(r.key());
            int p = where.computeIfAbsent(k, x -> r.partition());
            if (p != r.partition()) throw new Fail("key " + k + " in partitions " + p + " and " + r.partition());
            int n = next.getOrDefault(k, 0);
            if (!(k + "#" + n).equals(s(r.value())))
                throw new Fail("key " + k + " p" + r.partition() + "@" + r.offset() + ": " + s(r.value()));
            next.put(k, n + 1);
        }
        return new HashSet<>(where.values()).size();
    }

    static String keyedScenario(String suffix, int partitions, int nkeys, String idem) throws Exception {
        String t = prefix + "-" + suffix;
        createTopic(t, partitions);
        if (idem == null) produce(keyed(t, nkeys));   // the client's defaults
        else produce(keyed(t, nkeys), "enable.idempotence", idem);
        int used = checkKeyed(readAll(t, partitions, records));
        return records + " records, " + nkeys + " keys over " + used + " partitions, per-key order kept";
    }

    static String headersNulls() throws Exception {
        String t = prefix + "-hdr";
        createTopic(t, 1);
        ProducerRecord<byte[], byte[]> r3 = new ProducerRecord<>(t, 0, b("k3"), b("v3"));
        r3.headers().add("h1", b("a")).add("h2", new byte[] {0, (byte) 0xff, 0x7f})
            .add("h1", b("b")).add("empty", new byte[0]);
        produce(List.of(new ProducerRecord<>(t, 0, null, b("v0")),
                        new ProducerRecord<>(t, 0, b("k1"), null),
                        new ProducerRecord<>(t, 0, null, null), r3));
        List<ConsumerRecord<byte[], byte[]>> got = readAll(t, 1, 4);
        String[][] want = {{null, "v0"}, {"k1", null}, {null, null}, {"k3", "v3"}};
        for (int i = 0; i < 4; i++) {
            ConsumerRecord<byte[], byte[]> r = got.get(i);
            if (!Objects.equals(s(r.key()), want[i][0]) || !Objects.equals(s(r.value()), want[i][1]))
                throw new Fail("record " + i + ": key " + s(r.key()) + " value " + s(r.value()));
            if (i < 3 && r.headers().toArray().length != 0) throw new Fail("record " + i + " has headers");
        }
        Header[] h = got.get(3).headers().toArray();
        String[] names = {"h1", "h2", "h1", "empty"};
        byte[][] vals = {b("a"), {0, (byte) 0xff, 0x7f}, b("b"), {}};
        boolean ok = h.length == 4;
        for (int i = 0; ok && i < 4; i++) ok = h[i].key().equals(names[i]) && Arrays.equals(h[i].value(), vals[i]);
        if (!ok) throw new Fail("record 3 headers " + Arrays.toString(h));
        return "null key/value stay null, 4 headers in order with duplicate and empty value";
    }

    static String compression(String codec) throws Exception {
        String t = prefix + "-z";
        createTopic(t, 1);
        String xs = "x".repeat(100);
        List<ProducerRecord<byte[], byte[]>> recs = new ArrayList<>();
        for (int i = 0; i < records; i++) recs.add(new ProducerRecord<>(t, 0, null, b("value-" + i + "-" + xs)));
        produce(recs, "compression.type", codec, "linger.ms", "50");
        List<ConsumerRecord<byte[], byte[]>> got = readAll(t, 1, records);
        for (int i = 0; i < got.size(); i++)
            if (!("value-" + i + "-" + xs).equals(s(got.get(i).value())))
                throw new Fail("record " + i + ": value differs");
        return records + " " + codec + " records read back in order";
    }

    static KafkaConsumer<byte[], byte[]> groupConsumer(String name, String topic) {
        KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(props("group.id", prefix + "-g",
            "client.id", name, "enable.auto.commit", "false", "auto.offset.reset", "earliest",
            "session.timeout.ms", "10000", "heartbeat.interval.ms", "500"),
            new ByteArrayDeserializer(), new ByteArrayDeserializer());
        c.subscribe(List.of(topic));
        return c;
    }

    static List<String> pollValues(List<KafkaConsumer<byte[], byte[]>> cs, int want, long timeoutMs) {
        List<String> got = new ArrayList<>();
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (got.size() < want && System.currentTimeMillis() < deadline)
            for (KafkaConsumer<byte[], byte[]> c : cs)
                c.poll(Duration.ofMillis(100)).forEach(r -> got.add(s(r.value())));
        return got;
    }

    static List<String> range(int lo, int hi) {
        List<String> l = new ArrayList<>();
        for (int i = lo; i < hi; i++) l.add("r" + i);
        return l;
    }

    static void produceRange(String t, int lo, int hi) throws Exception {
        List<ProducerRecord<byte[], byte[]>> recs = new ArrayList<>();
        for (int i = lo; i < hi; i++) recs.add(new ProducerRecord<>(t, i % 4, null, b("r" + i)));
        produce(recs);
    }

    static Set<Integer> parts(KafkaConsumer<byte[], byte[]> c) {
        Set<Integer> s = new TreeSet<>();
        c.assignment().forEach(tp -> s.add(tp.partition()));
        return s;
    }

    static boolean sameSet(List<String> got, List<String> want) {
        List<String> a = new ArrayList<>(got), w = new ArrayList<>(want);
        Collections.sort(a);
        Collections.sort(w);
        return a.equals(w);
    }

    static String groupCommit() throws Exception {
        String t = prefix + "-grp";
        createTopic(t, 4);
        produceRange(t, 0, 400);
        KafkaConsumer<byte[], byte[]> a = groupConsumer("A", t);
        List<String> got = pollValues(List.of(a), 400, 45000);
        if (!sameSet(got, range(0, 400))) throw new Fail("step 1: A read " + got.size() + " records, want the 400 produced");
        a.commitSync();
        KafkaConsumer<byte[], byte[]> bc = groupConsumer("B", t);
        Set<Integer> pa = Set.of(), pb = Set.of();
        long deadline = System.currentTimeMillis() + 45000;
        boolean ok = false;
        while (!ok && System.currentTimeMillis() < deadline) {
            List<String> extra = pollValues(List.of(a, bc), 1, 400);
            if (!extra.isEmpty()) throw new Fail("step 2: committed records delivered again: " + extra);
            pa = parts(a);
            pb = parts(bc);
            Set<Integer> u = new TreeSet<>(pa);
            u.addAll(pb);
            ok = !pa.isEmpty() && !pb.isEmpty() && Collections.disjoint(pa, pb) && u.size() == 4;
        }
        if (!ok) throw new Fail("step 2: no rebalance to two members: A " + pa + ", B " + pb);
        produceRange(t, 400, 440);
        got = pollValues(List.of(a, bc), 40, 45000);
        if (!sameSet(got, range(400, 440))) throw new Fail("step 3: A+B read " + got.size() + " records, want exactly r400..r439");
        a.commitSync();
        bc.commitSync();
        a.close();
        bc.close();
        produceRange(t, 440, 448);
        KafkaConsumer<byte[], byte[]> c = groupConsumer("C", t);
        got = pollValues(List.of(c), 8, 45000);
        got.addAll(pollValues(List.of(c), 1, 1000));
        c.close();
        if (!sameSet(got, range(440, 448))) throw new Fail("step 4: C read " + got + ", want exactly r440..r447");
        return "rebalance A=" + pa + " B=" + pb + ", commits resumed by C";
    }

    static String transactions() throws Exception {
        String t = prefix + "-txn";
        createTopic(t, 1);
        try (KafkaProducer<byte[], byte[]> p = producer("transactional.id", prefix + "-tx")) {
            p.initTransactions();
            String[] tags = {"c1", "a", "c2"};
            for (int k = 0; k < 3; k++) {
                p.beginTransaction();
                for (int i = 0; i < 10; i++) p.send(new ProducerRecord<>(t, 0, null, b(tags[k] + "-" + i)));
                p.flush();
                if (k == 1) p.abortTransaction(); else p.commitTransaction();
            }
        }
        List<String> got = new ArrayList<>();
        readAll(t, 1, 20, "isolation.level", "read_committed").forEach(r -> got.add(s(r.value())));
        List<String> want = new ArrayList<>();
        for (int i = 0; i < 10; i++) want.add("c1-" + i);
        for (int i = 0; i < 10; i++) want.add("c2-" + i);
        if (!got.equals(want)) throw new Fail("read_committed read " + got);
        return "read_committed sees the two committed transactions only, in order";
    }

    static String run() throws Exception {
        switch (scn) {
            case "metadata_admin": return metadataAdmin();
            case "produce_consume": return produceConsume();
            case "keyed_6p": return keyedScenario("keyed", 6, 24, null);
            case "headers_nulls": return headersNulls();
            case "idempotent": return keyedScenario("idem", 3, 30, "true");
            case "group_commit": return groupCommit();
            case "transactions": return transactions();
            default:
                if (scn.startsWith("compression_")) return compression(scn.substring(12));
                throw new Fail("unknown scenario");
        }
    }

    public static void main(String[] args) {
        boot = args[0];
        scn = args[1];
        prefix = args[2];
        String n = System.getenv("SCN_RECORDS");
        records = n == null || n.isEmpty() ? 1000 : Integer.parseInt(n);
        int rc = 1;
        admin = Admin.create(props("request.timeout.ms", "20000", "default.api.timeout.ms", "30000"));
        try {
            System.out.println("PASS " + scn + ": " + run());
            rc = 0;
        } catch (Fail e) {
            System.out.println("FAIL " + scn + ": " + e.getMessage());
        } catch (Exception e) {
            System.out.println("FAIL " + scn + ": " + e);
        }
        System.out.flush();
        Runtime.getRuntime().halt(rc);   // do not wait for client threads
    }
}
