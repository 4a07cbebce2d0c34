// Runs a SQL script with Flink's Table API: `flink run -d fhs-sql-job.jar SCRIPT.sql`.
//
// The Flink distribution from PyPI (what the images are built from, offline) ships
// sql-client.sh but not the SQL gateway it runs on, so `sql-client.sh -f` cannot run a script
// there. This is the smallest stand-in: statements end with ';', `--` starts a comment line,
// `SET 'key' = 'value';` sets a configuration option, every other statement goes to
// TableEnvironment.executeSql (an INSERT submits the job; with `flink run -d` the client returns
// once it is submitted).
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;

public class FhsSqlJob {
    private static final Pattern SET = Pattern.compile("(?is)^SET\\s+'([^']+)'\\s*=\\s*'([^']*)'$");

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: flink run [-d] fhs-sql-job.jar SCRIPT.sql");
            System.exit(2);
        }
        StringBuilder text = new StringBuilder();
        for (String line : Files.readAllLines(Path.of(args[0]))) {
            if (!line.trim().startsWith("--")) {
                text.append(line).append('\n');
            }
        }
        TableEnvironment tEnv = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
        for (String raw : text.toString().split(";")) {
            String statement = raw.trim();
            if (statement.isEmpty()) {
                continue;
            }
            Matcher set = SET.matcher(statement);
            if (set.matches()) {
                tEnv.getConfig().getConfiguration().setString(set.group(1), set.group(2));
                System.out.println("SET " + set.group(1) + " = " + set.group(2));
                continue;
            }
            TableResult result = tEnv.executeSql(statement);
            result.getJobClient().ifPresent(client -> System.out.println("Submitted job " + client.getJobID()));
        }
    }
}
