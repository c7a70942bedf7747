// interop/java/streams/src/EosWordCount.java: a Kafka Streams word count with
// processing.guarantee=exactly_once_v2 against a running broker:
//
//   java EosWordCount <bootstrap> <tag> <lines>
//
// Creates <tag>-lines and <tag>-counts (3 partitions), writes <lines> lines of 5 words
// from a 50-word vocabulary (known counts), runs the topology lines -> split -> group by
// word -> count (in-memory store, changelog and repartition topics created by Streams)
// -> <tag>-counts in two instances one after the other (the first is closed part-way,
// the second carries on from its committed state), and reads <tag>-counts at
// read_committed: the latest count of every word must be its exact count.
// Prints one line "PASS EosWordCount: ..." or "FAIL EosWordCount: ..."; exit 0 or 1.
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
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
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.Stores;

public class EosWordCount {
    static final int PARTS = 3, VOCAB = 50, WORDS_PER_LINE = 5;

    static String word(int line, int k) {
        return "w" + ((line * 7 + k * 13) % VOCAB);
    }

    static KafkaStreams start(String bootstrap, String tag, String lines, String counts) throws Exception {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, tag + "-app");
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "200");
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, "1");
        p.put(StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory("skiff-streams").toString());
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.String().getClass());
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.String().getClass());
        StreamsBuilder b = new StreamsBuilder();
        b.<String, String>stream(lines)
                .flatMapValues(v -> Arrays.asList(v.split(" ")))
                .groupBy((k, w) -> w)
                .count(Materialized.as(Stores.inMemoryKeyValueStore("counts")))
                .toStream()
                .to(counts, Produced.with(Serdes.String(), Serdes.Long()));
        KafkaStreams s = new KafkaStreams(b.build(), p);
        s.start();
        return s;
    }

    // Latest committed count per word, read to the end offsets; waits until they equal
    // want or the deadline passes.
    static Map<String, Long> latest(String bootstrap, String counts, Map<String, Long> want, long deadlineMs) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        Map<String, Long> last = new HashMap<>();
        try (KafkaConsumer<String, Long> c = new KafkaConsumer<>(p, new StringDeserializer(), new LongDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int i = 0; i < PARTS; i++) tps.add(new TopicPartition(counts, i));
            c.assign(tps);
            c.seekToBeginning(tps);
            while (System.currentTimeMillis() < deadlineMs) {
                for (ConsumerRecord<String, Long> r : c.poll(Duration.ofMillis(500))) last.put(r.key(), r.value());
                if (last.equals(want)) break;
            }
        }
        return last;
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], tag = args[1];
        int n = Integer.parseInt(args[2]);
        String lines = tag + "-lines", counts = tag + "-counts";
        Map<String, Long> want = new HashMap<>();
        Properties ap = new Properties();
        ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(ap)) {
            admin.createTopics(Arrays.asList(new NewTopic(lines, PARTS, (short) 1), new NewTopic(counts, PARTS, (short) 1)))
                    .all().get();
        }
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < n; i++) {
                StringBuilder sb = new StringBuilder();
                for (int k = 0; k < WORDS_PER_LINE; k++) {
                    String w = word(i, k);
                    want.merge(w, 1L, Long::sum);
                    sb.append(k > 0 ? " " : "").append(w);
                }
                p.send(new ProducerRecord<>(lines, "l" + i, sb.toString()));
            }
        }
        KafkaStreams first = start(bootstrap, tag, lines, counts);
        Thread.sleep(8000);
        first.close(Duration.ofSeconds(30)); // part-way; the second instance carries on
        KafkaStreams second = start(bootstrap, tag, lines, counts);
        Map<String, Long> got = latest(bootstrap, counts, want, System.currentTimeMillis() + 120000);
        second.close(Duration.ofSeconds(30));
        int wrong = 0;
        for (Map.Entry<String, Long> e : want.entrySet())
            if (!e.getValue().equals(got.get(e.getKey()))) {
                if (wrong++ < 5)
                    System.out.println("  " + e.getKey() + ": count " + got.get(e.getKey()) + ", want " + e.getValue());
            }
        String summary = n + " lines, " + want.size() + " words, " + wrong + " wrong counts";
        if (wrong == 0 && got.size() == want.size()) {
            System.out.println("PASS EosWordCount: " + summary);
            System.exit(0);
        }
        System.out.println("FAIL EosWordCount: " + summary + ", " + got.size() + " words seen");
        System.exit(1);
    }
}
