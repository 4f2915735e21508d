using System.Net;
using System.Text;
using System.Text.Json;
using Tollgate.FakeUpstream;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// Upstreams that echo the credential Tollgate sent them (or another provider's) in an error body or a
/// mid-stream error event. None of it reaches a client (<c>metadata.raw</c>, the message, the error event)
/// or a log line, whatever shape the key has, and wherever the 1 KiB cut falls.
/// </summary>
public sealed class UpstreamSecretEchoAttacks(UpstreamSecretEchoAttacks.EchoFixture echo) : IClassFixture<UpstreamSecretEchoAttacks.EchoFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Issue 9, item 12
    [Fact]
    public async Task ErrorBody_EchoingTheConfiguredKey_ReachesNoClientAndNoLog()
    {
        echo.Scenario("echo-500", new Scenario { Fault = Fault.Status500, ErrorMessage = "Incorrect API key provided: {credentials}." });
        using var client = await echo.ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/echo-500"), Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);

        var error = await response.AssertErrorAsync(HttpStatusCode.BadGateway);
        Assert.Contains("[redacted]", error.GetProperty("metadata").GetProperty("raw").GetString(), StringComparison.Ordinal);
        AssertNoSecret(text);
        AssertNoSecretLogged();
    }

    // Issue 9, item 12
    [Fact]
    public async Task ErrorBody_EchoingAnotherProvidersKey_IsRedactedToo()
    {
        echo.Scenario("echo-other", new Scenario { Fault = Fault.Status500, ErrorMessage = $"Cached credentials: {EchoFixture.OtherKey}" });
        using var client = await echo.ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/echo-other"), Ct);

        var error = await response.AssertErrorAsync(HttpStatusCode.BadGateway);
        AssertNoSecret(error.ToString());
        AssertNoSecretLogged();
    }

    // Issue 9, item 12
    [Fact]
    public async Task ErrorBody_KeyStraddlingThe1KiBCut_LeavesNoPartOfIt()
    {
        // {"error":{"message":" is 21 bytes: the key starts at every offset from 40 bytes before the cut to just before it.
        using var client = await echo.ClientAsync();
        for (var start = 1024 - 40; start < 1024; start += 3)
        {
            var model = $"echo-cut-{start}";
            echo.Scenario(model, new Scenario { Fault = Fault.Status500, ErrorMessage = new string('x', start - 21) + "{credentials}" });

            using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/" + model), Ct);

            var raw = (await response.AssertErrorAsync(HttpStatusCode.BadGateway)).GetProperty("metadata").GetProperty("raw").GetString()!;
            Assert.True(Encoding.UTF8.GetByteCount(raw) <= 1024, $"raw is {Encoding.UTF8.GetByteCount(raw)} bytes");
            Assert.DoesNotContain(EchoFixture.OpenAiKey, raw, StringComparison.Ordinal);
            Assert.DoesNotContain(EchoFixture.OpenAiKey[..Math.Min(6, 1024 - start)], raw[start..], StringComparison.Ordinal);
        }
    }

    // Issue 9, item 12
    [Fact]
    public async Task MidStreamErrorEvent_EchoingTheKey_IsRedactedInTheEvent()
    {
        echo.Scenario("echo-midstream", new Scenario { Fault = Fault.ErrorMidStream, ErrorMessage = "Key {credentials} was revoked" });
        var (accountId, client) = await echo.AccountAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/echo-midstream", stream: true), Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"finish_reason\":\"error\"", text, StringComparison.Ordinal);
        Assert.Contains("[redacted]", text, StringComparison.Ordinal);
        AssertNoSecret(text);
        AssertNoSecretLogged();
        await LedgerAudit.AssertBooksBalanceAsync(echo.Tollgate, accountId);
    }

    // Issue 9, item 12
    [Fact]
    public async Task AnthropicErrors_EchoingAKeyThatJsonEscapes_AreRedactedBeforeAndMidStream()
    {
        // The Anthropic key holds + / =, which a JSON encoder may write as \u002B: redacted in either spelling.
        echo.Scenario("echo-claude-500", new Scenario { Fault = Fault.Status500, ErrorMessage = "invalid x-api-key {credentials}" });
        echo.Scenario("echo-claude-midstream", new Scenario { Fault = Fault.ErrorMidStream, ErrorMessage = "invalid x-api-key {credentials}" });
        var (accountId, client) = await echo.AccountAsync();

        using var refused = await client.PostAsync("/api/v1/chat/completions", Chat("fake/echo-claude-500"), Ct);
        var refusedText = await refused.Content.ReadAsStringAsync(Ct);
        using var cut = await client.PostAsync("/api/v1/chat/completions", Chat("fake/echo-claude-midstream", stream: true), Ct);
        var cutText = await cut.Content.ReadAsStringAsync(Ct);

        var error = await refused.AssertErrorAsync(HttpStatusCode.BadGateway);
        AssertNoSecret(refusedText);
        AssertNoSecret(error.GetProperty("metadata").GetProperty("raw").GetString()!);
        Assert.Contains("\"finish_reason\":\"error\"", cutText, StringComparison.Ordinal);
        AssertNoSecret(cutText);
        AssertNoSecretLogged();
        await LedgerAudit.AssertBooksBalanceAsync(echo.Tollgate, accountId);
    }

    /// <summary>No key in the text, nor in what a client gets by decoding the JSON strings in it.</summary>
    private static void AssertNoSecret(string text)
    {
        foreach (var secret in EchoFixture.Secrets)
        {
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, Decoded(text), StringComparison.Ordinal);
        }
    }

    private void AssertNoSecretLogged() =>
        Assert.DoesNotContain(echo.Tollgate.Logs, line => EchoFixture.Secrets.Any(secret => line.Contains(secret, StringComparison.Ordinal)));

    /// <summary>Every JSON string value in <paramref name="text"/> (an error body, SSE data lines, raw bodies inside them), unescaped.</summary>
    private static string Decoded(string text)
    {
        var decoded = new StringBuilder();
        foreach (var line in text.Split('\n').Select(l => l.StartsWith("data: ", StringComparison.Ordinal) ? l[6..] : l))
        {
            try
            {
                Collect(JsonDocument.Parse(line).RootElement, decoded);
            }
            catch (JsonException)
            {
            }
        }

        return decoded.ToString();

        static void Collect(JsonElement element, StringBuilder into)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var property in element.EnumerateObject())
                    {
                        Collect(property.Value, into);
                    }

                    break;
                case JsonValueKind.Array:
                    foreach (var item in element.EnumerateArray())
                    {
                        Collect(item, into);
                    }

                    break;
                case JsonValueKind.String:
                    var value = element.GetString()!;
                    into.Append(value).Append('\n');
                    try
                    {
                        Collect(JsonDocument.Parse(value).RootElement, into);
                    }
                    catch (JsonException)
                    {
                    }

                    break;
            }
        }
    }

    private static StringContent Chat(string model, bool stream = false) =>
        Json.Body($$"""{"model":"{{model}}","stream":{{(stream ? "true" : "false")}},"max_tokens":50,"messages":[{"role":"user","content":"hello"}]}""");

    /// <summary>
    /// The fake upstream behind three providers whose keys match no key-shaped pattern: an OpenAI-style one and an
    /// Anthropic one the models call, and one no model uses. Every <c>fake/echo-*</c> model is routed by its name.
    /// </summary>
    public sealed class EchoFixture : IAsyncLifetime
    {
        public const string OpenAiKey = "upstream-CANARY-7c1e9a4f0b2d5e38";
        public const string AnthropicKey = "ant+CANARY/93b1f0e7a2c4d6=";
        public const string OtherKey = "other-CANARY-51d0c9b8e7f6a4";

        public static readonly string[] Secrets = [OpenAiKey, AnthropicKey, OtherKey];

        internal FakeUpstreamServer Fake { get; private set; } = null!;

        public TollgateFactory Tollgate { get; private set; } = null!;

        public async ValueTask InitializeAsync()
        {
            Fake = await FakeUpstreamServer.StartAsync(new FakeUpstreamOptions());
            var root = Fake.BaseAddress.ToString().TrimEnd('/');
            var settings = new Dictionary<string, string?>
            {
                ["Tollgate:Providers:echoai:Type"] = "openai",
                ["Tollgate:Providers:echoai:BaseUrl"] = root + "/v1",
                ["Tollgate:Providers:echoai:ApiKey"] = OpenAiKey,
                ["Tollgate:Providers:echoant:Type"] = "anthropic",
                ["Tollgate:Providers:echoant:BaseUrl"] = root,
                ["Tollgate:Providers:echoant:ApiKey"] = AnthropicKey,
                ["Tollgate:Providers:unused:Type"] = "openai",
                ["Tollgate:Providers:unused:BaseUrl"] = root + "/v1",
                ["Tollgate:Providers:unused:ApiKey"] = OtherKey,
                ["Tollgate:Gateway:MaxAttemptsPerModel"] = "1",
            };
            (string Id, string Provider, string Model)[] models =
            [
                .. new[] { "echo-500", "echo-other", "echo-midstream" }
                    .Concat(Enumerable.Range(0, 14).Select(i => $"echo-cut-{1024 - 40 + (i * 3)}"))
                    .Select(name => ("fake/" + name, "echoai", name)),
                ("fake/echo-claude-500", "echoant", "echo-claude-500"),
                ("fake/echo-claude-midstream", "echoant", "echo-claude-midstream"),
            ];
            for (var i = 0; i < models.Length; i++)
            {
                settings[$"Tollgate:Models:{i}:Id"] = models[i].Id;
                settings[$"Tollgate:Models:{i}:Pricing:Completion"] = "0.00001";
                settings[$"Tollgate:Models:{i}:Deployments:0:Provider"] = models[i].Provider;
                settings[$"Tollgate:Models:{i}:Deployments:0:Model"] = models[i].Model;
            }

            Tollgate = new TollgateFactory(settings);
            Tollgate.StartServer();
        }

        internal void Scenario(string model, Scenario scenario) => Fake.Options.Scenarios[model] = scenario;

        public async Task<HttpClient> ClientAsync() => (await AccountAsync()).Client;

        public async Task<(string AccountId, HttpClient Client)> AccountAsync()
        {
            var account = await Tollgate.CreateAccountAsync();
            return (account.Id, Tollgate.Client((await Tollgate.CreateKeyAsync(account.Id)).Secret));
        }

        public async ValueTask DisposeAsync()
        {
            await Tollgate.DisposeAsync();
            await Fake.DisposeAsync();
        }
    }
}
