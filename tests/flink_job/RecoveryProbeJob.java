// A streaming job that runs until it is cancelled, for tests/flink_job_recovery.rs.
//
// A checkpointed number sequence (0 .. Long.MAX_VALUE, about 200 numbers a second) into a
// discarding sink. The distribution from PyPI ships no example jars and no SQL gateway (which
// sql-client.sh needs), so the test compiles this file against lib/flink-dist-*.jar and submits
// it with `bin/flink run -d`.

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.lib.NumberSequenceSource;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;

public class RecoveryProbeJob {
    /** Slows the sequence down to about 200 numbers a second per subtask. */
    public static class Throttle implements MapFunction<Long, Long> {
        @Override
        public Long map(Long value) throws Exception {
            Thread.sleep(5);
            return value;
        }
    }

    public static void main(String[] args) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.enableCheckpointing(1000);
        env.fromSource(new NumberSequenceSource(0, Long.MAX_VALUE), WatermarkStrategy.noWatermarks(), "sequence")
                .map(new Throttle())
                .returns(Types.LONG)
                .sinkTo(new DiscardingSink<>());
        env.execute(args.length > 0 ? args[0] : "fhs-recovery-probe");
    }
}
