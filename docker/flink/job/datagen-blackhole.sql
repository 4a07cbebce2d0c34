-- The compose cluster's long-running streaming job: random rows from the datagen connector into
-- the blackhole connector, until cancelled. Checkpointed every 2 s (execution.checkpointing.interval
-- in docker/flink/conf/config.yaml), so a new JobManager restores it from the latest checkpoint.
-- Submitted by the `submit` service: flink run -d fhs-sql-job.jar datagen-blackhole.sql
SET 'pipeline.name' = 'fhs-datagen-blackhole';

CREATE TABLE events (
  id BIGINT,
  device STRING,
  reading DOUBLE,
  ts TIMESTAMP(3)
) WITH (
  'connector' = 'datagen',
  'rows-per-second' = '500',
  'fields.device.length' = '8'
);

CREATE TABLE sink (
  id BIGINT,
  device STRING,
  reading DOUBLE,
  ts TIMESTAMP(3)
) WITH (
  'connector' = 'blackhole'
);

INSERT INTO sink SELECT id, device, reading, ts FROM events;
