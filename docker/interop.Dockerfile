# Runs the librdkafka, kcat and kafka-python interop programs against BOOTSTRAP
# (see docker/compose.yml). Tests that restart or kill the broker need it in the same
# container and are left to interop/run.sh on a host.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        build-essential librdkafka-dev kcat python3 python3-kafka \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /interop
COPY interop ./
RUN for p in produce_consume offsets_for_times admin configs; do \
        cc -std=c11 -D_GNU_SOURCE -O2 -o /usr/local/bin/$p rdkafka/$p.c rdkafka/itest.c -lrdkafka; \
    done
CMD set -e; \
    produce_consume both lz4 docker-pc; \
    offsets_for_times docker-oft; \
    admin docker-admin; \
    configs docker-configs; \
    ./kcat.sh docker-kcat; \
    python3 kafka_python_test.py docker-py
