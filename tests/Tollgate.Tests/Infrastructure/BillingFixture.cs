using Tollgate.Credits;
using Tollgate.FakeUpstream;

namespace Tollgate.Tests.Infrastructure;

/// <summary>
/// The fake upstream and a Tollgate whose model <c>fake/cent</c> costs nothing per prompt token
/// and $0.0001 per completion token, so <c>max_tokens: 100</c> reserves exactly $0.01. New
/// accounts start with nothing.
/// </summary>
public sealed class BillingFixture : IAsyncLifetime
{
    public const decimal CompletionPrice = 0.0001m;

    internal FakeUpstreamServer Fake { get; private set; } = null!;

    public TollgateFactory Tollgate { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Fake = await FakeUpstreamServer.StartAsync(new FakeUpstreamOptions());
        var root = Fake.BaseAddress.ToString().TrimEnd('/');
        Tollgate = new TollgateFactory(new Dictionary<string, string?>
        {
            ["Tollgate:Credits:InitialCredits"] = "0",
            ["Tollgate:Providers:fakeai:Type"] = "openai",
            ["Tollgate:Providers:fakeai:BaseUrl"] = root + "/v1",
            ["Tollgate:Gateway:MaxAttemptsPerModel"] = "1",
            ["Tollgate:Models:0:Id"] = "fake/cent",
            ["Tollgate:Models:0:MaxCompletionTokens"] = "1000",
            ["Tollgate:Models:0:Pricing:Prompt"] = "0",
            ["Tollgate:Models:0:Pricing:Completion"] = CompletionPrice.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Tollgate:Models:0:Deployments:0:Provider"] = "fakeai",
            ["Tollgate:Models:0:Deployments:0:Model"] = "cent",
            ["Tollgate:Models:1:Id"] = "fake/cent-fail",
            ["Tollgate:Models:1:Pricing:Completion"] = "0.0001",
            ["Tollgate:Models:1:Deployments:0:Provider"] = "fakeai",
            ["Tollgate:Models:1:Deployments:0:Model"] = "cent-fail",
            ["Tollgate:Models:2:Id"] = "fake/cent-slow",
            ["Tollgate:Models:2:Pricing:Completion"] = "0.0001",
            ["Tollgate:Models:2:Deployments:0:Provider"] = "fakeai",
            ["Tollgate:Models:2:Deployments:0:Model"] = "cent-slow",
            ["Tollgate:Models:3:Id"] = "fake/prompt-priced", // $0.00001 per prompt token, completions free
            ["Tollgate:Models:3:Pricing:Prompt"] = "0.00001",
            ["Tollgate:Models:3:Pricing:Completion"] = "0",
            ["Tollgate:Models:3:Deployments:0:Provider"] = "fakeai",
            ["Tollgate:Models:3:Deployments:0:Model"] = "prompt-priced",
        });
        Tollgate.StartServer();
        Fake.Options.Scenarios["cent-fail"] = new Scenario { Fault = Fault.Status500 };
        Fake.Options.Scenarios["cent-slow"] = new Scenario { Chunks = 400, ChunkGap = TimeSpan.FromMilliseconds(25) };
    }

    /// <summary>An account holding <paramref name="usd"/>, and a key for it.</summary>
    internal async Task<(string AccountId, string Secret, Tollgate.ApiKeys.ApiKey Key)> AccountAsync(decimal usd, string keyJson = """{"name":"k"}""")
    {
        var account = await Tollgate.CreateAccountAsync();
        if (usd != 0)
        {
            await Tollgate.Service<CreditLedger>().GrantAsync(account.Id, Money.ToNanos(usd), "test", null, null, CancellationToken.None);
        }

        var (key, secret) = await Tollgate.CreateKeyAsync(account.Id, keyJson);
        return (account.Id, secret, key);
    }

    /// <summary>A single number from the database (see <see cref="TollgateFactory.Scalar"/>).</summary>
    public long Scalar(string sql, params (string Name, object Value)[] parameters) => Tollgate.Scalar(sql, parameters);

    public async ValueTask DisposeAsync()
    {
        await Tollgate.DisposeAsync();
        await Fake.DisposeAsync();
    }
}
