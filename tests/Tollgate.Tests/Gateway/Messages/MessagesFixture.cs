using Tollgate.FakeUpstream;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Gateway.Messages;

/// <summary>
/// The fake upstream in both formats behind a Tollgate whose catalogue has the same models served by Anthropic
/// (<c>fake/claude*</c>, passed through) and by an OpenAI-compatible server (<c>fake/gpt*</c>, translated), and the demo model.
/// </summary>
public sealed class MessagesFixture : IAsyncLifetime
{
    internal FakeUpstreamServer Fake { get; private set; } = null!;

    public TollgateFactory Tollgate { get; private set; } = null!;

    private static readonly (string Id, string Provider, string Upstream)[] Models =
    [
        ("fake/claude", "fakeant", "claude-msg"),
        ("fake/claude-tool", "fakeant", "claude-msg-tool"),
        ("fake/gpt", "fakeai", "gpt-msg"),
        ("fake/gpt-tool", "fakeai", "gpt-msg-tool"),
    ];

    public async ValueTask InitializeAsync()
    {
        Fake = await FakeUpstreamServer.StartAsync(new FakeUpstreamOptions());
        Fake.Options.Scenarios["claude-msg-tool"] = new Scenario { ToolCall = true };
        Fake.Options.Scenarios["gpt-msg-tool"] = new Scenario { ToolCall = true };
        var root = Fake.BaseAddress.ToString().TrimEnd('/');
        var settings = new Dictionary<string, string?>
        {
            ["Tollgate:Providers:fakeai:Type"] = "openai",
            ["Tollgate:Providers:fakeai:BaseUrl"] = root + "/v1",
            ["Tollgate:Providers:fakeai:ApiKey"] = "sk-upstream-messages",
            ["Tollgate:Providers:fakeant:Type"] = "anthropic",
            ["Tollgate:Providers:fakeant:BaseUrl"] = root,
            ["Tollgate:Providers:fakeant:ApiKey"] = "sk-upstream-messages",
            ["Tollgate:Gateway:RetryBaseDelay"] = "00:00:00.010",
            ["Tollgate:Gateway:RetryMaxDelay"] = "00:00:00.050",
        };
        for (var i = 0; i < Models.Length; i++)
        {
            var (id, provider, upstream) = Models[i];
            settings[$"Tollgate:Models:{i}:Id"] = id;
            settings[$"Tollgate:Models:{i}:MaxCompletionTokens"] = "8192";
            settings[$"Tollgate:Models:{i}:Pricing:Prompt"] = "0.000003";
            settings[$"Tollgate:Models:{i}:Pricing:Completion"] = "0.000015";
            settings[$"Tollgate:Models:{i}:Deployments:0:Provider"] = provider;
            settings[$"Tollgate:Models:{i}:Deployments:0:Model"] = upstream;
        }

        Tollgate = new TollgateFactory(settings);
        Tollgate.StartServer();
    }

    /// <summary>An account with credits and a key; returns the account id and the secret.</summary>
    public async Task<(string AccountId, string Secret)> AccountAsync(decimal credits = 10m, string keySettings = """{"name":"messages"}""")
    {
        var account = await Tollgate.CreateAccountAsync();
        var ledger = Tollgate.Service<global::Tollgate.Credits.CreditLedger>();
        var balance = (await Tollgate.Service<global::Tollgate.Credits.IBillingStore>().GetCreditsAsync(account.Id, CancellationToken.None)).BalanceNanos;
        var grant = global::Tollgate.Credits.Money.ToNanos(credits) - balance;
        if (grant != 0)
        {
            await ledger.GrantAsync(account.Id, grant, "test", null, null, CancellationToken.None);
        }

        return (account.Id, (await Tollgate.CreateKeyAsync(account.Id, keySettings)).Secret);
    }

    /// <summary>The Anthropic SDK pointed at Tollgate, as <c>ANTHROPIC_BASE_URL=http://HOST/api</c> points it.</summary>
    public global::Anthropic.AnthropicClient Client(string secret) => new(new global::Anthropic.Core.ClientOptions
    {
        BaseUrl = new Uri(Tollgate.Address, "/api").ToString(),
        ApiKey = secret,
        MaxRetries = 0,
    });

    /// <summary>The Anthropic SDK pointed straight at the fake Anthropic upstream: what the SDK gets from "Anthropic itself".</summary>
    public global::Anthropic.AnthropicClient Direct() => new(new global::Anthropic.Core.ClientOptions
    {
        BaseUrl = Fake.BaseAddress.ToString().TrimEnd('/'),
        ApiKey = "sk-upstream-messages",
        ExtraHeaders = new Dictionary<string, string> { ["x-api-key"] = "sk-upstream-messages" },
        MaxRetries = 0,
    });

    internal IReadOnlyList<ReceivedRequest> RequestsFor(string upstreamModel) => Fake.Requests.Where(r => r.Model == upstreamModel).ToArray();

    public async ValueTask DisposeAsync()
    {
        await Tollgate.DisposeAsync();
        await Fake.DisposeAsync();
    }
}
