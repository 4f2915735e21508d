using Tollgate.FakeUpstream;

namespace Tollgate.Tests.Infrastructure;

/// <summary>
/// The project's fake upstream (a real Kestrel server) plus a Tollgate whose catalogue points at
/// it: OpenAI-style and Anthropic-style providers, a second OpenAI-style provider for failover,
/// and a provider nobody listens on. Tests choose the fake's behaviour per upstream model name.
/// </summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    /// <summary>The upstream credential Tollgate is configured with: it must reach the upstream and nothing else.</summary>
    public const string UpstreamKey = "sk-upstream-CANARY-4f9d2c7e1a8b6053";

    internal FakeUpstreamServer Fake { get; private set; } = null!;

    public TollgateFactory Tollgate { get; private set; } = null!;

    internal FakeUpstreamOptions Upstream => Fake.Options;

    public async ValueTask InitializeAsync()
    {
        Fake = await FakeUpstreamServer.StartAsync(new FakeUpstreamOptions());
        var root = Fake.BaseAddress.ToString().TrimEnd('/');
        var settings = new Dictionary<string, string?>
        {
            ["Tollgate:Providers:fakeai:Type"] = "openai",
            ["Tollgate:Providers:fakeai:BaseUrl"] = root + "/v1",
            ["Tollgate:Providers:fakeai:ApiKey"] = UpstreamKey,
            ["Tollgate:Providers:fakeai2:Type"] = "openai",
            ["Tollgate:Providers:fakeai2:BaseUrl"] = root + "/v1",
            ["Tollgate:Providers:fakeai2:ApiKey"] = UpstreamKey,
            ["Tollgate:Providers:fakeant:Type"] = "anthropic",
            ["Tollgate:Providers:fakeant:BaseUrl"] = root,
            ["Tollgate:Providers:fakeant:ApiKey"] = UpstreamKey,
            ["Tollgate:Providers:quick:Type"] = "openai",
            ["Tollgate:Providers:quick:BaseUrl"] = root + "/v1",
            ["Tollgate:Providers:quick:FirstByteTimeout"] = "00:00:01",
            ["Tollgate:Providers:quick:IdleTimeout"] = "00:00:00.500",
            ["Tollgate:Providers:down:Type"] = "openai",
            ["Tollgate:Providers:down:BaseUrl"] = "http://127.0.0.1:9/v1", // discard port: nothing listens
            ["Tollgate:Gateway:RetryBaseDelay"] = "00:00:00.010",
            ["Tollgate:Gateway:RetryMaxDelay"] = "00:00:00.050",
            ["Tollgate:Gateway:KeepAliveInterval"] = "00:00:00.200",
        };
        var index = 0;
        foreach (var (id, deployments) in Models)
        {
            settings[$"Tollgate:Models:{index}:Id"] = id;
            settings[$"Tollgate:Models:{index}:MaxCompletionTokens"] = "4096";
            settings[$"Tollgate:Models:{index}:Pricing:Prompt"] = "0.000002";
            settings[$"Tollgate:Models:{index}:Pricing:Completion"] = "0.00001";
            settings[$"Tollgate:Models:{index}:Pricing:InputCacheRead"] = "0.0000005";
            for (var d = 0; d < deployments.Length; d++)
            {
                var (provider, model, weight) = deployments[d];
                settings[$"Tollgate:Models:{index}:Deployments:{d}:Provider"] = provider;
                settings[$"Tollgate:Models:{index}:Deployments:{d}:Model"] = model;
                settings[$"Tollgate:Models:{index}:Deployments:{d}:Weight"] = weight.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            index++;
        }

        Tollgate = new TollgateFactory(settings);
        Tollgate.StartServer();
    }

    /// <summary>Tollgate model id → deployments (provider, upstream model name, weight).</summary>
    private static readonly (string Id, (string Provider, string Model, int Weight)[] Deployments)[] Models =
    [
        ("fake/gpt", [("fakeai", "gpt-fake", 1)]),
        ("fake/claude", [("fakeant", "claude-fake", 1)]),
        ("fake/tool-gpt", [("fakeai", "tool-gpt", 1)]),
        ("fake/tool-claude", [("fakeant", "tool-claude", 1)]),
        ("fake/failover", [("fakeai", "failover-a", 1), ("fakeai2", "failover-b", 1)]),
        ("fake/weighted", [("fakeai", "weighted-three", 3), ("fakeai2", "weighted-one", 1)]),
        ("fake/down", [("down", "nothing", 1)]),
        ("fake/quick-hang", [("quick", "quick-hang", 1)]),
        ("fake/quick-idle", [("quick", "quick-idle", 1)]),
        .. new[]
        {
            "retry429", "bad400", "always500", "cut", "malformed", "huge", "slow", "hang", "late", "nousage", "breaker", "long", "cached", "leak500",
        }.Select(name => ($"fake/{name}", new[] { ("fakeai", name, 1) })),
        ("fake/cut-claude", [("fakeant", "cut-claude", 1)]),
        ("fake/cached-claude", [("fakeant", "cached-claude", 1)]),
    ];

    /// <summary>A key for a new account.</summary>
    public async Task<string> SecretAsync()
    {
        var account = await Tollgate.CreateAccountAsync();
        return (await Tollgate.CreateKeyAsync(account.Id)).Secret;
    }

    /// <summary>The requests the fake received for one upstream model name.</summary>
    internal IReadOnlyList<ReceivedRequest> RequestsFor(string upstreamModel) =>
        Fake.Requests.Where(r => r.Model == upstreamModel).ToArray();

    public async ValueTask DisposeAsync()
    {
        await Tollgate.DisposeAsync();
        await Fake.DisposeAsync();
    }
}
