// interop/java/src/EosCopy.java: exactly-once consume-transform-produce with the Java
// client (kafka-clients 4.x) against a running broker:
//
//   java EosCopy <bootstrap> <tag> <records>
//
// Creates <tag>-in and <tag>-out (3 partitions each), fills <tag>-in with records
// "r0".."r<n-1>" (idempotent producer), then copies them to <tag>-out with a
// read_committed consumer in group <tag>-group and a transactional producer that sends
// the consumer's offsets into each transaction (sendOffsetsToTransaction with the
// group metadata, KIP-447). Along the way one transaction is aborted on purpose (the
// consumer rewinds to its committed offsets) and twice the copier "crashes": producer
// and consumer are closed with a transaction open, and a new pair with the same
// transactional.id takes over (initTransactions aborts what the old one left). The
// output read at read_committed must hold every input record exactly once.
// Prints one line "PASS EosCopy: ..." or "FAIL EosCopy: ..."; exit status 0 or 1.
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class EosCopy {
    static final int PARTS = 3;
    static String bootstrap;

    static KafkaProducer<String, String> producer(String txnId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        if (txnId != null) p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        return new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
    }

    static KafkaConsumer<String, String> consumer(String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "300");
        return new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
    }

    static void rewind(KafkaConsumer<String, String> c) {
        Map<TopicPartition, OffsetAndMetadata> committed = c.committed(c.assignment());
        for (TopicPartition tp : c.assignment()) {
            OffsetAndMetadata o = committed.get(tp);
            if (o != null) c.seek(tp, o.offset());
            else c.seekToBeginning(Collections.singleton(tp));
        }
    }

    static Map<TopicPartition, OffsetAndMetadata> positions(KafkaConsumer<String, String> c) {
        Map<TopicPartition, OffsetAndMetadata> m = new HashMap<>();
        for (TopicPartition tp : c.assignment()) m.put(tp, new OffsetAndMetadata(c.position(tp)));
        return m;
    }

    // Copies until the input stays idle for 5 s. Returns the records committed.
    static long copy(String in, String out, String group, String txnId) {
        KafkaProducer<String, String> p = producer(txnId);
        KafkaConsumer<String, String> c = consumer(group);
        long committed = 0, txns = 0, idleSince = System.currentTimeMillis();
        int crashes = 0;
        boolean aborted = false;
        p.initTransactions();
        c.subscribe(Collections.singletonList(in));
        while (System.currentTimeMillis() - idleSince < 5000) {
            ConsumerRecords<String, String> recs = c.poll(Duration.ofMillis(200));
            if (recs.isEmpty()) continue;
            idleSince = System.currentTimeMillis();
            p.beginTransaction();
            for (ConsumerRecord<String, String> r : recs)
                p.send(new ProducerRecord<>(out, r.partition(), r.key(), r.value()));
            txns++;
            if (txns == 5 && !aborted) { // an abort on purpose
                p.flush();
                p.abortTransaction();
                rewind(c);
                aborted = true;
                continue;
            }
            if ((txns == 12 || txns == 25) && crashes < 2) { // a crash with the transaction open
                p.flush();
                p.close(Duration.ZERO);
                c.close(Duration.ZERO);
                crashes++;
                p = producer(txnId);
                c = consumer(group);
                p.initTransactions();
                c.subscribe(Collections.singletonList(in));
                continue;
            }
            p.sendOffsetsToTransaction(positions(c), c.groupMetadata());
            p.commitTransaction();
            committed += recs.count();
        }
        c.close();
        p.close();
        System.out.println("  copy: " + committed + " records committed in " + txns + " transactions, 1 aborted, "
                + crashes + " crashes");
        return committed;
    }

    public static void main(String[] args) throws Exception {
        bootstrap = args[0];
        String tag = args[1];
        int n = Integer.parseInt(args[2]);
        String in = tag + "-in", out = tag + "-out";
        Properties ap = new Properties();
        ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(ap)) {
            List<NewTopic> topics = new ArrayList<>();
            topics.add(new NewTopic(in, PARTS, (short) 1));
            topics.add(new NewTopic(out, PARTS, (short) 1));
            admin.createTopics(topics).all().get();
        }
        try (KafkaProducer<String, String> p = producer(null)) {
            for (int i = 0; i < n; i++) p.send(new ProducerRecord<>(in, i % PARTS, null, "r" + i));
            p.flush();
        }
        copy(in, out, tag + "-group", tag + "-copier");

        // read the output at read_committed up to its end offsets
        byte[] seen = new byte[n];
        long got = 0, dup = 0, bad = 0;
        try (KafkaConsumer<String, String> c = consumer(tag + "-verify")) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int i = 0; i < PARTS; i++) tps.add(new TopicPartition(out, i));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            long deadline = System.currentTimeMillis() + 60000;
            boolean done = false;
            while (!done && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    got++;
                    int i = -1;
                    try {
                        i = r.value().startsWith("r") ? Integer.parseInt(r.value().substring(1)) : -1;
                    } catch (NumberFormatException e) {
                        i = -1;
                    }
                    if (i < 0 || i >= n) bad++;
                    else if (seen[i]++ > 0) dup++;
                }
                done = true;
                for (TopicPartition tp : tps) done &= c.position(tp) >= end.get(tp);
            }
        }
        long missing = 0;
        for (int i = 0; i < n; i++) missing += seen[i] == 0 ? 1 : 0;
        String summary = got + " records (want " + n + "), " + dup + " duplicates, " + missing + " missing, " + bad
                + " unknown";
        if (got == n && dup == 0 && missing == 0 && bad == 0) {
            System.out.println("PASS EosCopy: " + summary);
            System.exit(0);
        }
        System.out.println("FAIL EosCopy: " + summary);
        System.exit(1);
    }
}
