using Tollgate.FakeUpstream;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Gateway;

/// <summary>
/// The fake upstream in both formats, behind a Tollgate whose catalogue has models that reason (an Anthropic one that
/// thinks when asked, an OpenAI-compatible one that returns <c>reasoning_content</c> as vLLM and DeepSeek do) and the
/// same models without reasoning.
/// </summary>
public sealed class ReasoningFixture : IAsyncLifetime
{
    internal FakeUpstreamServer Fake { get; private set; } = null!;

    public TollgateFactory Tollgate { get; private set; } = null!;

    /// <summary>Tollgate model id → (provider, upstream model, reasons).</summary>
    private static readonly (string Id, string Provider, string Upstream, bool Reasons)[] Models =
    [
        ("fake/claude-thinking", "fakeant", "claude-thinking", true),
        ("fake/claude-thinking-tool", "fakeant", "claude-thinking-tool", true),
        ("fake/claude-redacted", "fakeant", "claude-redacted", true),
        ("fake/claude-plain", "fakeant", "claude-plain", false),
        ("fake/gpt-reasoning", "fakeai", "gpt-reasoning", true),
        ("fake/gpt-plain", "fakeai", "gpt-plain", false),
    ];

    public async ValueTask InitializeAsync()
    {
        Fake = await FakeUpstreamServer.StartAsync(new FakeUpstreamOptions());
        Fake.Options.Scenarios["claude-thinking-tool"] = new Scenario { ToolCall = true };
        Fake.Options.Scenarios["claude-redacted"] = new Scenario { RedactedThinking = true };
        Fake.Options.Scenarios["gpt-reasoning"] = new Scenario { Thinking = true };
        Fake.Options.Scenarios["gpt-plain"] = new Scenario { Thinking = true }; // a server that reasons whatever it is asked
        var root = Fake.BaseAddress.ToString().TrimEnd('/');
        var settings = new Dictionary<string, string?>
        {
            ["Tollgate:Providers:fakeai:Type"] = "openai",
            ["Tollgate:Providers:fakeai:BaseUrl"] = root + "/v1",
            ["Tollgate:Providers:fakeai:ApiKey"] = "sk-upstream-reasoning",
            ["Tollgate:Providers:fakeant:Type"] = "anthropic",
            ["Tollgate:Providers:fakeant:BaseUrl"] = root,
            ["Tollgate:Providers:fakeant:ApiKey"] = "sk-upstream-reasoning",
            ["Tollgate:Gateway:RetryBaseDelay"] = "00:00:00.010",
            ["Tollgate:Gateway:RetryMaxDelay"] = "00:00:00.050",
        };
        for (var i = 0; i < Models.Length; i++)
        {
            var (id, provider, upstream, reasons) = Models[i];
            settings[$"Tollgate:Models:{i}:Id"] = id;
            settings[$"Tollgate:Models:{i}:MaxCompletionTokens"] = "8192";
            settings[$"Tollgate:Models:{i}:Reasoning"] = reasons ? "true" : "false";
            settings[$"Tollgate:Models:{i}:Pricing:Prompt"] = "0.000003";
            settings[$"Tollgate:Models:{i}:Pricing:Completion"] = "0.000015";
            settings[$"Tollgate:Models:{i}:Deployments:0:Provider"] = provider;
            settings[$"Tollgate:Models:{i}:Deployments:0:Model"] = upstream;
        }

        Tollgate = new TollgateFactory(settings);
        Tollgate.StartServer();
    }

    /// <summary>An account with credits and a key; returns the account id and the secret.</summary>
    public async Task<(string AccountId, string Secret)> AccountAsync()
    {
        var account = await Tollgate.CreateAccountAsync();
        await Tollgate.Service<global::Tollgate.Credits.CreditLedger>().GrantAsync(account.Id, global::Tollgate.Credits.Money.ToNanos(10m), "test", null, null,
            CancellationToken.None);
        return (account.Id, (await Tollgate.CreateKeyAsync(account.Id)).Secret);
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
