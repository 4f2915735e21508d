using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// A Tollgate whose models go to a <see cref="HostileUpstream"/>: <c>hostile/gpt</c> (openai type) and
/// <c>hostile/claude</c> (anthropic type), each with a completion cap of 1,000 tokens, an image ceiling of
/// 1,500 tokens, $1 per million prompt tokens and $2 per million completion tokens; Claude's cache writes cost
/// 1.25× the prompt price. <c>hostile/gpt-backup</c> is a second model for fallbacks. One attempt per model.
/// </summary>
public sealed class HostileFixture : IAsyncLifetime
{
    public const int Cap = 1000;
    public const int ImageCeiling = 1500;
    public const decimal PromptPrice = 0.000001m;
    public const decimal CompletionPrice = 0.000002m;
    public const decimal CacheWritePrice = 0.00000125m;
    public const decimal CacheReadPrice = 0.0000001m;

    internal HostileUpstream Upstream { get; private set; } = null!;

    public TollgateFactory Tollgate { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Upstream = await HostileUpstream.StartAsync();
        var root = Upstream.BaseAddress.ToString().TrimEnd('/');
        var settings = new Dictionary<string, string?>
        {
            ["Tollgate:Credits:InitialCredits"] = "0",
            ["Tollgate:Providers:hostile:Type"] = "openai",
            ["Tollgate:Providers:hostile:BaseUrl"] = root + "/v1",
            ["Tollgate:Providers:hostile-ant:Type"] = "anthropic",
            ["Tollgate:Providers:hostile-ant:BaseUrl"] = root,
            ["Tollgate:Gateway:MaxAttemptsPerModel"] = "1",
            ["Tollgate:Gateway:KeepAliveInterval"] = "00:00:05",
        };
        var models = new[] { ("hostile/gpt", "hostile", "gpt-hostile"), ("hostile/claude", "hostile-ant", "claude-hostile"), ("hostile/gpt-backup", "hostile", "gpt-backup") };
        for (var i = 0; i < models.Length; i++)
        {
            var (id, provider, upstreamModel) = models[i];
            settings[$"Tollgate:Models:{i}:Id"] = id;
            settings[$"Tollgate:Models:{i}:MaxCompletionTokens"] = Cap.ToString(System.Globalization.CultureInfo.InvariantCulture);
            settings[$"Tollgate:Models:{i}:MaxImageTokens"] = ImageCeiling.ToString(System.Globalization.CultureInfo.InvariantCulture);
            settings[$"Tollgate:Models:{i}:Pricing:Prompt"] = Invariant(PromptPrice);
            settings[$"Tollgate:Models:{i}:Pricing:Completion"] = Invariant(CompletionPrice);
            settings[$"Tollgate:Models:{i}:Pricing:InputCacheRead"] = Invariant(CacheReadPrice);
            settings[$"Tollgate:Models:{i}:Pricing:InputCacheWrite"] = Invariant(CacheWritePrice);
            settings[$"Tollgate:Models:{i}:Deployments:0:Provider"] = provider;
            settings[$"Tollgate:Models:{i}:Deployments:0:Model"] = upstreamModel;
        }

        Tollgate = new TollgateFactory(settings);
        Tollgate.StartServer();
    }

    private static string Invariant(decimal value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>An account holding <paramref name="usd"/>, and a key for it.</summary>
    internal async Task<(string AccountId, string Secret)> AccountAsync(decimal usd)
    {
        var account = await Tollgate.CreateAccountAsync();
        if (usd != 0)
        {
            await Tollgate.Service<CreditLedger>().GrantAsync(account.Id, Money.ToNanos(usd), "test", null, null, CancellationToken.None);
        }

        var (_, secret) = await Tollgate.CreateKeyAsync(account.Id);
        return (account.Id, secret);
    }

    public async ValueTask DisposeAsync()
    {
        await Tollgate.DisposeAsync();
        await Upstream.DisposeAsync();
    }
}
