using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Tollgate.FakeUpstream;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Credits;

/// <summary>
/// The durability harness of SPEC section 4: Tollgate (the real executable) under load is killed
/// with SIGKILL; afterwards every answer a client received in full must be in the ledger and the
/// usage log, and the balance must still equal the ledger's sum.
/// </summary>
public sealed class CrashDurabilityTests : IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tollgate-crash-").FullName;
    private FakeUpstreamServer _fake = null!;

    public async ValueTask InitializeAsync() =>
        _fake = await FakeUpstreamServer.StartAsync(new FakeUpstreamOptions { RecordRequests = false, Default = new Scenario { Chunks = 6, ChunkGap = TimeSpan.FromMilliseconds(2) } });

    public async ValueTask DisposeAsync()
    {
        await _fake.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    private Dictionary<string, string> Environment() => new()
    {
        ["Tollgate__Credits__InitialCredits"] = "0",
        ["Tollgate__Providers__fakeai__Type"] = "openai",
        ["Tollgate__Providers__fakeai__BaseUrl"] = _fake.BaseAddress + "v1",
        ["Tollgate__Models__0__Id"] = "fake/crash",
        ["Tollgate__Models__0__Pricing__Prompt"] = "0.000001",
        ["Tollgate__Models__0__Pricing__Completion"] = "0.00001",
        ["Tollgate__Models__0__MaxCompletionTokens"] = "100",
        ["Tollgate__Models__0__Deployments__0__Provider"] = "fakeai",
        ["Tollgate__Models__0__Deployments__0__Model"] = "crash",
        ["Logging__LogLevel__Default"] = "Warning",
        ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",
    };

    [Fact]
    public async Task KillDashNineUnderLoad_EveryCompletedAnswerIsInTheLedger()
    {
        var ct = TestContext.Current.CancellationToken;
        var (server, address) = await TollgateProcess.StartServerAsync(_folder, Environment());
        var completed = new ConcurrentBag<string>();
        int started = 0, failed = 0;
        await using (server)
        {
            Assert.Equal(0, (await TollgateProcess.RunAsync(_folder, "accounts", "create", "--email", "load@example.com")).ExitCode);
            Assert.Equal(0, (await TollgateProcess.RunAsync(_folder, "credits", "grant", "--email", "load@example.com", "--amount", "1000")).ExitCode);
            var secret = (await TollgateProcess.RunAsync(_folder, "keys", "create", "--email", "load@example.com", "--name", "load")).StdOut.TrimEnd().Split('\n')[^1];

            using var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var killAt = DateTime.UtcNow.AddSeconds(3);

            async Task ClientLoopAsync(int id)
            {
                for (var n = 0; !stop.IsCancellationRequested; n++)
                {
                    var stream = (id + n) % 2 == 0;
                    Interlocked.Increment(ref started);
                    try
                    {
                        using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body(
                            $$"""{"model":"fake/crash","stream":{{(stream ? "true" : "false")}},"max_tokens":50,"messages":[{"role":"user","content":"load {{id}} {{n}}"}]}"""), stop.Token);
                        var generationId = response.Headers.GetValues("X-Generation-Id").Single();
                        var body = await response.Content.ReadAsStringAsync(stop.Token);
                        var complete = stream
                            ? body.EndsWith("data: [DONE]\n\n", StringComparison.Ordinal)
                            : JsonDocument.Parse(body).RootElement.GetProperty("usage").GetProperty("cost").GetDecimal() > 0;
                        if (complete)
                        {
                            completed.Add(generationId); // the client has the final byte
                        }
                    }
                    catch (Exception exception) when (exception is HttpRequestException or IOException or JsonException or OperationCanceledException or InvalidOperationException)
                    {
                        Interlocked.Increment(ref failed);
                        if (DateTime.UtcNow > killAt.AddSeconds(1))
                        {
                            return;
                        }
                    }
                }
            }

            var clients = Enumerable.Range(0, 16).Select(i => Task.Run(() => ClientLoopAsync(i), ct)).ToArray();
            await Task.Delay(killAt - DateTime.UtcNow, ct);
            await server.KillAsync(); // SIGKILL, mid-load
            await Task.Delay(500, ct);
            await stop.CancelAsync();
            await Task.WhenAll(clients);
        }

        Assert.True(completed.Count > 50, $"only {completed.Count} answers completed before the kill");
        Assert.True(failed > 0, "the kill should have cut some requests");

        // What the dead process left: the database, and the journal of records it had not committed yet.
        var journal = Path.Combine(_folder, "data", "tollgate.db.usage");
        var left = Segments(journal);
        Assert.NotEmpty(left);

        // Tollgate starts again on the same data, writes what the journal holds, and only then answers.
        var (restarted, again) = await TollgateProcess.StartServerAsync(_folder, Environment());
        await using (restarted)
        {
            using var probe = new HttpClient { BaseAddress = again };
            Assert.Equal(System.Net.HttpStatusCode.OK, (await probe.GetAsync("/readyz", ct)).StatusCode);
            Assert.All(left, segment => Assert.False(File.Exists(segment), $"{segment} was replayed and should be gone"));
            var open = Assert.Single(Segments(journal));
            Assert.DoesNotContain(open, left); // a new segment, after the replayed ones

            // Reconcile (the restarted server is idle; readers see everything committed).
            SqliteConnection.ClearAllPools();
            using var connection = new SqliteConnection($"Data Source={Path.Combine(_folder, "data", "tollgate.db")};Pooling=False");
            connection.Open();
            var charged = Strings(connection, "SELECT reference FROM ledger WHERE kind = 'charge'");
            var recorded = Strings(connection, "SELECT generation_id FROM usage_records WHERE cost_nanos > 0");
            var missing = completed.Where(id => !charged.Contains(id) || !recorded.Contains(id)).ToArray();
            Assert.True(missing.Length == 0, $"{missing.Length} of {completed.Count} completed answers are not billed: {string.Join(", ", missing.Take(5))}");
            Assert.Equal(Long(connection, "SELECT SUM(amount_nanos) FROM ledger"), Long(connection, "SELECT SUM(balance_nanos) FROM balances"));
            Assert.Equal(Long(connection, "SELECT -SUM(amount_nanos) FROM ledger WHERE kind = 'charge'"), Long(connection, "SELECT SUM(cost_nanos) FROM usage_records"));
        }
    }

    private static string[] Segments(string prefix) =>
        Directory.GetFiles(Path.GetDirectoryName(prefix)!, Path.GetFileName(prefix) + ".*.journal");

    private static HashSet<string> Strings(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var values = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Read())
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }

    private static long Long(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
