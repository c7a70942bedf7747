/* interop/java/src/IdempotentAssign.java: the Java client (kafka-clients from Maven
 * Central) with its producer defaults, which since 3.0 are enable.idempotence=true and
 * acks=all, against a running broker:
 *
 *   java -cp <lib/*>:<classes> IdempotentAssign <bootstrap> <topic> [records]
 *
 * Creates the topic (3 partitions) with the Admin client, produces the records with
 * keys and values derived from their sequence number (explicit partition seq % 3 for
 * half of them, the default partitioner for the rest) and keeps the (partition,
 * offset) of every acknowledgement. Then a consumer without a group assign()s every
 * partition, seeks to the beginning and reads up to the end offsets: every record must
 * be at its acknowledged position, once, with the expected key and value. The
 * producer's effective acks and enable.idempotence are printed and must be the
 * defaults named above (the test is about the defaults). Ends with one line
 * "PASS java-idempotent: ..." or "FAIL java-idempotent: ..." and exit status 0/1. */
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class IdempotentAssign {
    private static final String TEST = "java-idempotent";
    private static final int PARTITIONS = 3;
    private static final List<String> failures = new ArrayList<>();

    private static void check(boolean cond, String msg) {
        if (!cond) {
            failures.add(msg);
            if (failures.size() <= 10) System.out.println("  check failed: " + msg);
        }
    }

    private static String value(int seq) {
        StringBuilder sb = new StringBuilder();
        long x = seq * 0x9e3779b97f4a7c15L + 7;
        for (int i = 0; i < 40 + seq % 60; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            sb.append((char) ('a' + Math.floorMod(x, 26)));
        }
        return sb.toString();
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1];
        int records = args.length > 2 ? Integer.parseInt(args[2]) : 20000;

        Properties ap = new Properties();
        ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(ap)) {
            admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get();
        }

        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        /* Nothing else: the defaults are what is tested. */
        ProducerConfig effective = new ProducerConfig(pp);
        String acks = effective.getString(ProducerConfig.ACKS_CONFIG);
        boolean idem = effective.getBoolean(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG);
        System.out.println("  producer defaults: acks=" + acks + " enable.idempotence=" + idem);
        check(("all".equals(acks) || "-1".equals(acks)) && idem, "client defaults are not idempotent acks=all");

        int[] ackPart = new int[records];
        long[] ackOff = new long[records];
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
            List<Future<RecordMetadata>> futures = new ArrayList<>(records);
            for (int seq = 0; seq < records; seq++) {
                ProducerRecord<String, String> rec = seq % 2 == 0
                    ? new ProducerRecord<>(topic, seq % PARTITIONS, "k" + seq, value(seq))
                    : new ProducerRecord<>(topic, "k" + seq, value(seq));
                futures.add(producer.send(rec));
            }
            producer.flush();
            for (int seq = 0; seq < records; seq++) {
                RecordMetadata md = futures.get(seq).get();
                ackPart[seq] = md.partition();
                ackOff[seq] = md.offset();
            }
        }

        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        int read = 0;
        boolean[] seen = new boolean[records];
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int p = 0; p < PARTITIONS; p++) tps.add(new TopicPartition(topic, p));
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            Map<TopicPartition, Long> end = new HashMap<>(consumer.endOffsets(tps));
            long total = 0;
            for (long v : end.values()) total += v;
            check(total == records, "end offsets add up to " + total + ", not " + records);
            long deadline = System.currentTimeMillis() + 60000;
            while (read < total && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    read++;
                    int seq = r.key() != null && r.key().startsWith("k") ? Integer.parseInt(r.key().substring(1)) : -1;
                    if (seq < 0 || seq >= records) {
                        check(false, "unknown record at " + r.partition() + "/" + r.offset());
                        continue;
                    }
                    check(!seen[seq], "seq " + seq + " read twice");
                    seen[seq] = true;
                    check(ackPart[seq] == r.partition() && ackOff[seq] == r.offset(),
                          "seq " + seq + " acknowledged at " + ackPart[seq] + "/" + ackOff[seq] + ", read at "
                              + r.partition() + "/" + r.offset());
                    check(value(seq).equals(r.value()), "seq " + seq + ": wrong value");
                }
            }
        }
        int missing = 0;
        for (int seq = 0; seq < records; seq++) if (!seen[seq]) missing++;
        check(missing == 0, missing + " acknowledged records not read back");
        String summary = records + " records produced with the defaults (acks=" + acks + ", idempotent=" + idem
            + "), " + read + " read back with assign()";
        if (failures.isEmpty()) {
            System.out.println("PASS " + TEST + ": " + summary);
        } else {
            System.out.println("FAIL " + TEST + ": " + summary + " (" + failures.size() + " failed checks)");
        }
        System.out.flush();
        System.exit(failures.isEmpty() ? 0 : 1);
    }
}
