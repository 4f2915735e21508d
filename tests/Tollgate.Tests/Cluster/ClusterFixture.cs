using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Tollgate.Credits;
using Tollgate.FakeUpstream;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Cluster;

/// <summary>
/// A cluster on one throwaway PostgreSQL database: Tollgate in this process (<see cref="Local"/>, which also makes
/// accounts and keys) and <paramref name="processes"/> more as separate processes (which can be killed with SIGKILL),
/// all routing <c>fake/cent</c> ($0.0001 per completion token: <c>max_tokens: 100</c> holds $0.01) to one fake upstream.
/// </summary>
internal sealed class ClusterFixture : IAsyncDisposable
{
    private readonly List<string> _folders = [];

    private ClusterFixture(FakeUpstreamServer fake, string connectionString, TollgateFactory local, List<(TollgateProcess Server, Uri Address)> remote)
    {
        Fake = fake;
        ConnectionString = connectionString;
        Local = local;
        Remote = remote;
    }

    public FakeUpstreamServer Fake { get; }

    public string ConnectionString { get; }

    public TollgateFactory Local { get; }

    public List<(TollgateProcess Server, Uri Address)> Remote { get; }

    /// <summary>Every instance's address: this process's first.</summary>
    public IReadOnlyList<Uri> Addresses => [Local.Address, .. Remote.Select(r => r.Address)];

    public static Dictionary<string, string> Settings(Uri fake, string connectionString) => new()
    {
        ["Tollgate:Storage:Provider"] = "postgres",
        ["Tollgate:Storage:ConnectionString"] = connectionString,
        ["Tollgate:Cluster:HeartbeatInterval"] = "00:00:00.500",
        ["Tollgate:Cluster:DeadAfter"] = "00:00:03",
        ["Tollgate:Credits:InitialCredits"] = "0",
        ["Tollgate:Providers:fakeai:Type"] = "openai",
        ["Tollgate:Providers:fakeai:BaseUrl"] = fake.ToString().TrimEnd('/') + "/v1",
        ["Tollgate:Gateway:MaxAttemptsPerModel"] = "1",
        ["Tollgate:Models:0:Id"] = "fake/cent",
        ["Tollgate:Models:0:MaxCompletionTokens"] = "1000",
        ["Tollgate:Models:0:Pricing:Prompt"] = "0",
        ["Tollgate:Models:0:Pricing:Completion"] = "0.0001",
        ["Tollgate:Models:0:Deployments:0:Provider"] = "fakeai",
        ["Tollgate:Models:0:Deployments:0:Model"] = "cent",
        ["Tollgate:Models:1:Id"] = "fake/cent-slow",
        ["Tollgate:Models:1:MaxCompletionTokens"] = "1000",
        ["Tollgate:Models:1:Pricing:Prompt"] = "0",
        ["Tollgate:Models:1:Pricing:Completion"] = "0.0001",
        ["Tollgate:Models:1:Deployments:0:Provider"] = "fakeai",
        ["Tollgate:Models:1:Deployments:0:Model"] = "cent-slow",
    };

    public static async Task<ClusterFixture> StartAsync(int processes)
    {
        var fake = await FakeUpstreamServer.StartAsync(new FakeUpstreamOptions());
        fake.Options.Scenarios["cent-slow"] = new Scenario { Chunks = 40, ChunkGap = TimeSpan.FromMilliseconds(25) };
        var connectionString = await TempPostgres.CreateDatabaseAsync();
        var settings = Settings(fake.BaseAddress, connectionString);
        var environment = settings.ToDictionary(s => "Tollgate__" + s.Key["Tollgate:".Length..].Replace(":", "__", StringComparison.Ordinal), s => s.Value);
        environment["Logging__LogLevel__Default"] = "Warning";
        environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information"; // "Now listening on"

        // The processes start together on an empty database: the migrations' advisory lock makes them take turns.
        var folders = Enumerable.Range(0, processes).Select(_ => Directory.CreateTempSubdirectory("tollgate-cluster-").FullName).ToList();
        var remote = (await Task.WhenAll(folders.Select(f => TollgateProcess.StartServerAsync(f, environment)))).ToList();
        var local = new TollgateFactory(settings.ToDictionary(s => s.Key, s => (string?)s.Value));
        local.StartServer();
        var cluster = new ClusterFixture(fake, connectionString, local, remote);
        cluster._folders.AddRange(folders);
        return cluster;
    }

    /// <summary>An account holding <paramref name="usd"/>, and a key for it.</summary>
    public async Task<(string AccountId, string Secret, Tollgate.ApiKeys.ApiKey Key)> AccountAsync(decimal usd)
    {
        var account = await Local.CreateAccountAsync();
        if (usd != 0)
        {
            await Local.Service<CreditLedger>().GrantAsync(account.Id, Money.ToNanos(usd), "test", null, null, CancellationToken.None);
        }

        var (key, secret) = await Local.CreateKeyAsync(account.Id);
        return (account.Id, secret, key);
    }

    public static HttpRequestMessage Chat(Uri instance, string secret, string model, bool stream) =>
        new(HttpMethod.Post, new Uri(instance, "/api/v1/chat/completions"))
        {
            Headers = { Authorization = new AuthenticationHeaderValue("Bearer", secret) },
            Content = new StringContent(
                $$"""{"model":"{{model}}","max_tokens":100,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]}""",
                Encoding.UTF8, "application/json"),
        };

    /// <summary>A number from the shared database.</summary>
    public long Scalar(string sql, params (string Name, object Value)[] parameters) => Local.Scalar(sql, parameters);

    public static string Usd(long nanos) => Money.ToUsd(nanos).ToString(CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        foreach (var (server, _) in Remote)
        {
            await server.DisposeAsync();
        }

        await Local.DisposeAsync();
        await Fake.DisposeAsync();
        foreach (var folder in _folders)
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
