using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CsCheck;
using Tollgate.Accounts;
using Tollgate.ApiKeys;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// Bodies a hostile client sends to every JSON endpoint: duplicate keys, bytes that are not UTF-8, lone
/// surrogates, nesting past the limit, huge numbers, and fuzzed bodies. Each is a 400 in the envelope
/// naming the field, never a 500 and never a silent "last value wins".
/// </summary>
public sealed class MalformedBodyAttacks(TollgateFactory factory) : IClassFixture<TollgateFactory>
{
    private const string Chat = "/api/v1/chat/completions";
    private const string Keys = "/api/v1/api-keys";
    private const string Grant = "/api/v1/admin/credits";
    private const string Hello = """[{"role":"user","content":"hi"}]""";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Issue 9, item 14
    [Fact]
    public async Task Chat_DuplicateTopLevelKey_Answers400NamingTheKey()
    {
        using var client = await FundedClientAsync();

        using var response = await PostAsync(client, Chat, $$"""{"model":"demo/echo","model":"demo/echo","messages":{{Hello}}}""");

        await AssertBadRequestAsync(response, "model");
    }

    // Issue 9, item 14
    [Fact]
    public async Task Chat_DuplicateKeyInsideAMessage_Answers400NamingItsPath()
    {
        using var client = await FundedClientAsync();

        using var response = await PostAsync(client, Chat,
            """{"model":"demo/echo","messages":[{"role":"user","content":"a"},{"role":"user","role":"system","content":"b"}]}""");

        await AssertBadRequestAsync(response, "messages[1].role");
    }

    // Issue 9, item 14
    [Fact]
    public async Task Chat_DuplicateKeySpelledWithAnEscape_Answers400NamingTheKey()
    {
        using var client = await FundedClientAsync();

        using var response = await PostAsync(client, Chat, $$"""{"model":"demo/echo","\u006dodel":"demo/echo","messages":{{Hello}}}""");

        await AssertBadRequestAsync(response, "model");
    }

    // Issue 9, item 14
    [Fact]
    public async Task ApiKeys_CreateWithADuplicateKey_Answers400AndCreatesNothing()
    {
        var (accountId, client) = await AccountAsync();
        var before = (await factory.Service<ApiKeyService>().ListAsync(accountId, Ct)).Count;

        using var response = await PostAsync(client, Keys, """{"name":"narrow","limit":1,"limit":null}""");

        await AssertBadRequestAsync(response, "limit");
        Assert.Equal(before, (await factory.Service<ApiKeyService>().ListAsync(accountId, Ct)).Count);
    }

    // Issue 9, item 14
    [Fact]
    public async Task ApiKeys_PatchWithADuplicateKey_Answers400AndChangesNothing()
    {
        var (accountId, client) = await AccountAsync();
        var (target, _) = await factory.CreateKeyAsync(accountId, """{"name":"target","limit":1}""");

        using var response = await SendAsync(client, HttpMethod.Patch, $"{Keys}/{target.Id}", Encoding.UTF8.GetBytes("""{"limit":1,"limit":1000}"""));

        await AssertBadRequestAsync(response, "limit");
        Assert.Equal(Money.ToNanos(1m), (await factory.Service<ApiKeyService>().GetAsync(accountId, target.Id, Ct)).LimitNanos);
    }

    // Issue 9, item 14
    [Fact]
    public async Task AdminCredits_DuplicateAmount_Answers400AndGrantsNothing()
    {
        var (ownerClient, target) = await OwnerAndTargetAsync();
        var before = await BalanceAsync(target.Id);

        using var response = await PostAsync(ownerClient, Grant, $$"""{"account_id":"{{target.Id}}","amount":1,"amount":1000000}""");

        await AssertBadRequestAsync(response, "amount");
        Assert.Equal(before, await BalanceAsync(target.Id));
    }

    // Issue 9, item 17
    [Fact]
    public async Task Chat_BytesThatAreNotUtf8_Answer400NamingTheField()
    {
        using var client = await FundedClientAsync();

        using var response = await SendAsync(client, HttpMethod.Post, Chat,
            Bytes("""{"model":"demo/echo","messages":[{"role":"user","content":"caf"""u8, [0xE9], "\"}]}"u8));

        await AssertBadRequestAsync(response, "messages[0].content");
    }

    // Issue 9, item 17
    [Fact]
    public async Task Chat_LoneSurrogate_Answers400NamingTheField()
    {
        using var client = await FundedClientAsync();

        using var response = await PostAsync(client, Chat, """{"model":"demo/echo","messages":[{"role":"user","content":[{"type":"text","text":"a\ud800b"}]}]}""");

        await AssertBadRequestAsync(response, "messages[0].content[0].text");
    }

    // Issue 9, item 17
    [Fact]
    public async Task Chat_LoneSurrogateInAPropertyName_Answers400NamingWhere()
    {
        using var client = await FundedClientAsync();

        using var response = await PostAsync(client, Chat, """{"model":"demo/echo","messages":[{"role":"user","content":"hi","\udc00":1}]}""");

        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.StartsWith("messages[0].", error.GetProperty("metadata").GetProperty("param").GetString(), StringComparison.Ordinal);
    }

    // Issue 9, item 17
    [Fact]
    public async Task Chat_InvalidTextInAFieldTollgateOnlyPassesOn_Answers400NamingIt()
    {
        using var client = await FundedClientAsync();

        using var response = await SendAsync(client, HttpMethod.Post, Chat,
            Bytes("""{"model":"demo/echo","messages":[{"role":"user","content":"hi"}],"user":"u"""u8, [0xC0, 0xAF], "\"}"u8));

        await AssertBadRequestAsync(response, "user");
    }

    // Issue 9, item 17: found by the fuzz test below in CI (seed 04L943cuKPf5): a tools array of arrays answered 500.
    [Theory]
    [InlineData("""[[]]""", false)]
    [InlineData("""[[[[]]]]""", true)]
    [InlineData("""[1]""", false)]
    [InlineData("""{}""", true)]
    [InlineData("""[{"type":"function"}]""", false)]
    [InlineData("""[{"type":"function","function":{"name":0.5}}]""", true)]
    [InlineData("""[{"type":7,"function":{"name":"f"}}]""", false)]
    public async Task Chat_ToolsOfTheWrongShape_Answer400NamingTools(string tools, bool stream)
    {
        using var client = await FundedClientAsync();

        using var response = await PostAsync(client, Chat,
            $$"""{"model":"demo/echo","stream":{{(stream ? "true" : "false")}},"messages":{{Hello}},"tools":{{tools}}}""");

        await AssertBadRequestAsync(response, "tools");
    }

    // Issue 9, item 17
    [Theory]
    [InlineData("""[1]""")]
    [InlineData("""[{"description":"no name"}]""")]
    [InlineData("""{"name":"f"}""")]
    public async Task Chat_FunctionsOfTheWrongShape_Answer400NamingFunctions(string functions)
    {
        using var client = await FundedClientAsync();

        using var response = await PostAsync(client, Chat, $$"""{"model":"demo/echo","messages":{{Hello}},"functions":{{functions}}}""");

        await AssertBadRequestAsync(response, "functions");
    }

    // Issue 9, item 17: a schema is the client's to write; one whose properties are not objects is still answered.
    [Fact]
    public async Task Chat_ToolSchemaWithPropertiesThatAreNotObjects_IsAnswered()
    {
        using var client = await FundedClientAsync();

        using var response = await PostAsync(client, Chat,
            """{"model":"demo/echo","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"q":1,"r":[],"s":null}}}}]}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal("f", answer.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("tool_calls")[0].GetProperty("function").GetProperty("name").GetString());
    }

    // Issue 9, item 17
    [Fact]
    public async Task ApiKeys_CreateWithALoneSurrogateName_Answers400()
    {
        var (_, client) = await AccountAsync();

        using var response = await PostAsync(client, Keys, """{"name":"\ud800"}""");

        await AssertBadRequestAsync(response, "name");
    }

    // Issue 9, item 17
    [Fact]
    public async Task ApiKeys_PatchWithBytesThatAreNotUtf8_Answers400()
    {
        var (accountId, client) = await AccountAsync();
        var (target, _) = await factory.CreateKeyAsync(accountId, """{"name":"target"}""");

        using var response = await SendAsync(client, HttpMethod.Patch, $"{Keys}/{target.Id}", Bytes("""{"name":"x"""u8, [0xFF, 0xFE], "\"}"u8));

        await AssertBadRequestAsync(response, "name");
        Assert.Equal("target", (await factory.Service<ApiKeyService>().GetAsync(accountId, target.Id, Ct)).Name);
    }

    // Issue 9, item 17
    [Fact]
    public async Task AdminCredits_NoteThatIsNotUtf8_Answers400AndGrantsNothing()
    {
        var (ownerClient, target) = await OwnerAndTargetAsync();
        var before = await BalanceAsync(target.Id);

        using var response = await SendAsync(ownerClient, HttpMethod.Post, Grant,
            Bytes(Encoding.UTF8.GetBytes($$"""{"account_id":"{{target.Id}}","amount":5,"note":"x"""), [0xED, 0xA0, 0x80], "\"}"u8));

        await AssertBadRequestAsync(response, "note");
        Assert.Equal(before, await BalanceAsync(target.Id));
    }

    // Issue 9, item 17
    [Fact]
    public async Task Chat_NestedDeeperThan64_Answers400NamingWhere_AndTheLimitItselfIsAccepted()
    {
        using var client = await FundedClientAsync();
        static string Body(int depth) =>
            $$"""{"model":"demo/echo","messages":{{Hello}},"metadata":{{new string('[', depth - 1)}}{{new string(']', depth - 1)}}}""";

        using var atTheLimit = await PostAsync(client, Chat, Body(64));
        using var tooDeep = await PostAsync(client, Chat, Body(65));

        Assert.Equal(HttpStatusCode.OK, atTheLimit.StatusCode);
        var error = await tooDeep.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.StartsWith("metadata[0]", error.GetProperty("metadata").GetProperty("param").GetString(), StringComparison.Ordinal);
        Assert.Contains("64", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    // Issue 9, items 14 and 17: fuzzed bodies on every JSON endpoint.
    [Fact]
    public async Task EveryJsonEndpoint_FuzzedBodies_NeverAnswer500_AlwaysTheEnvelope_InBoundedTime()
    {
        var (accountId, client) = await AccountAsync(usd: 1_000m);
        var (target, _) = await factory.CreateKeyAsync(accountId, """{"name":"patched"}""");
        var (ownerClient, sink) = await OwnerAndTargetAsync();
        var endpoints = new (HttpClient Client, HttpMethod Method, string Path, Gen<byte[]> Bodies)[]
        {
            (client, HttpMethod.Post, Chat, FuzzBodies.Chat),
            (client, HttpMethod.Post, Keys, FuzzBodies.Key),
            (client, HttpMethod.Patch, $"{Keys}/{target.Id}", FuzzBodies.Key),
            (ownerClient, HttpMethod.Post, Grant, FuzzBodies.Credits(sink.Id, sink.Email)),
        };
        var oks = 0;

        await Check.SampleAsync(Gen.Int[0, endpoints.Length - 1].SelectMany(e => endpoints[e].Bodies.Select(body => (Endpoint: e, Body: body))),
            async sample =>
            {
                var (http, method, path, _) = endpoints[sample.Endpoint];
                var clock = Stopwatch.StartNew();
                using var response = await SendAsync(http, method, path, sample.Body);
                var text = await response.Content.ReadAsStringAsync(Ct);
                clock.Stop();

                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
                Assert.True((int)response.StatusCode < 500, $"{(int)response.StatusCode}: {text}");
                Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
                if ((int)response.StatusCode >= 400)
                {
                    AssertEnvelope(response, text);
                }
                else if (path == Chat)
                {
                    Interlocked.Increment(ref oks);
                }
            },
            iter: 1500, threads: 2, seed: null, print: sample => $"{endpoints[sample.Endpoint].Method} {endpoints[sample.Endpoint].Path} " +
                Encoding.UTF8.GetString(sample.Body[..Math.Min(sample.Body.Length, 600)]));

        Assert.True(oks > 0, "some fuzzed chat bodies are valid and answered");
        await LedgerAudit.AssertBooksBalanceAsync(factory, accountId);
    }

    private static void AssertEnvelope(HttpResponseMessage response, string text)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.Equal((int)response.StatusCode, error.GetProperty("code").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(JsonValueKind.Object, error.GetProperty("metadata").ValueKind);
    }

    private static async Task AssertBadRequestAsync(HttpResponseMessage response, string param)
    {
        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Equal(param, error.GetProperty("metadata").GetProperty("param").GetString());
    }

    private async Task<HttpClient> FundedClientAsync() => (await AccountAsync()).Client;

    private async Task<(string AccountId, HttpClient Client)> AccountAsync(decimal usd = 0)
    {
        var account = await factory.CreateAccountAsync();
        if (usd > 0)
        {
            await factory.Service<CreditLedger>().GrantAsync(account.Id, Money.ToNanos(usd), "test", null, null, CancellationToken.None);
        }

        var (_, secret) = await factory.CreateKeyAsync(account.Id);
        return (account.Id, factory.Client(secret));
    }

    /// <summary>An owner's key with every scope there is (granting needs one), and an account to grant to.</summary>
    private async Task<(HttpClient Owner, Account Target)> OwnerAndTargetAsync()
    {
        var accounts = factory.Service<AccountService>();
        var owner = (await accounts.CreateAsync($"owner-{Guid.NewGuid():N}@example.com", null, AccountRole.Owner, null, Ct)).Account;
        var everyScope = Enum.GetValues<ApiKeyScopes>().Aggregate(ApiKeyScopes.None, (all, scope) => all | scope);
        var created = await factory.Service<ApiKeyService>().CreateAsync(owner.Id, null, new ApiKeyChanges { Name = "owner", Scopes = everyScope }, Ct);
        return (factory.Client(created.Secret), await factory.CreateAccountAsync());
    }

    private Task<long> BalanceAsync(string accountId) => LedgerAudit.AssertBooksBalanceAsync(factory, accountId);

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string json) =>
        SendAsync(client, HttpMethod.Post, path, Encoding.UTF8.GetBytes(json));

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, byte[] body)
    {
        var request = new HttpRequestMessage(method, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return client.SendAsync(request, Ct);
    }

    private static byte[] Bytes(ReadOnlySpan<byte> before, byte[] middle, ReadOnlySpan<byte> after) => [.. before, .. middle, .. after];

    /// <summary>Generators of hostile bodies: random bytes, broken and truncated JSON, deep nesting, huge numbers, wrong types.</summary>
    internal static class FuzzBodies
    {
        private static readonly string[] ChatFields =
        [
            "model", "messages", "stream", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stop", "seed", "tools",
            "tool_choice", "parallel_tool_calls", "response_format", "presence_penalty", "frequency_penalty", "logit_bias", "user",
            "reasoning", "reasoning_effort", "models", "provider", "stream_options", "service_tier", "functions", "function_call",
            "logprobs", "top_logprobs", "modalities", "audio", "prediction", "metadata", "store",
        ];

        private static readonly string[] KeyFields = ["name", "scopes", "models", "disabled", "limit", "limit_reset", "rate_limit", "expires_at", "grace_seconds"];

        private static readonly string[] PartKinds = ["text", "image_url", "input_audio", "file", "refusal", "video", "", "TEXT"];

        private static readonly string[] Roles = ["user", "system", "developer", "assistant", "tool", "function", "root", ""];

        /// <summary>Values of every JSON type that break some field's rules.</summary>
        private static readonly Gen<string> Hostile = Gen.OneOf(
            Gen.OneOf(
                "null", "true", "false", "0", "-1", "1", "0.5", "-0", "1e400", "-1e400", "1e-400", "1E+309", "99999999999999999999",
                "-99999999999999999999", "2147483648", "9223372036854775808", "1.0000000000000000000000001", "\"\"", "\" \"", "\"x\"",
                "\"demo/echo\"", "\"\\ud800\"", "\"\\udfff\\ud800\"", "\"\\u0000\"", "\"\\u001b[31m\"", "[]", "{}", "[null]", "[{}]", "[[]]",
                "{\"a\":1}", "{\"\":null}", "[\"demo/echo\"]", "{\"order\":1}", "{\"order\":[1]}", "{\"requests_per_minute\":1e400}",
                "\"2027-01-01T00:00:00Z\"", "\"1999-01-01\"", "\"daily\"", "[\"inference\"]", "[\"admin\",\"keys:write\"]"),
            Gen.Int[1, 120].Select(depth => new string('[', depth) + new string(']', depth)),
            Gen.Int[1, 120].Select(depth => string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth)),
            Gen.Int[1, 3000].Select(digits => new string('9', digits)),
            Gen.Int[1, 3000].Select(digits => "0." + new string('0', digits) + "1"),
            Gen.String[0, 40].Select(text => JsonSerializer.Serialize(text)));

        private static readonly Gen<string> Part = Gen.Select(Gen.OneOf(PartKinds), Gen.Bool, Hostile, Hostile,
            (kind, valid, a, b) => valid
                ? kind switch
                {
                    "text" => """{"type":"text","text":"hello"}""",
                    "image_url" => """{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"}}""",
                    "input_audio" => """{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}""",
                    "file" => """{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0="}}""",
                    _ => $$"""{"type":"{{kind}}"}""",
                }
                : $$"""{"type":{{a}},"text":{{b}},"image_url":{{a}},"input_audio":{{b}},"file":{{a}},"cache_control":{{b}}}""");

        private static readonly Gen<string> Content = Gen.Frequency(
            (3, Gen.Const("\"hello there\"")),
            (3, Part.Array[0, 4].Select(parts => "[" + string.Join(',', parts) + "]")),
            (1, Hostile));

        private static readonly Gen<string> Message = Gen.Select(Gen.OneOf(Roles), Content, Hostile, Gen.Int[0, 6],
            (role, content, hostile, shape) => shape switch
            {
                0 => $$"""{"role":"{{role}}","content":{{content}}}""",
                1 => $$"""{"role":"{{role}}","content":{{content}},"name":{{hostile}}}""",
                2 => $$$"""{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":{{{hostile}}},"arguments":{{{hostile}}}}}]}""",
                3 => $$"""{"role":"assistant","content":{{content}},"tool_calls":{{hostile}}}""",
                4 => $$"""{"role":"tool","tool_call_id":{{hostile}},"content":{{content}}}""",
                5 => $$$"""{"role":"assistant","content":null,"tool_calls":[{"id":{{{hostile}}},"type":{{{hostile}}},"function":{{{hostile}}}}]}""",
                _ => hostile,
            });

        private static readonly Gen<string> ValidChat = Gen.Select(Gen.Bool, Gen.Int[1, 50],
            (stream, maxTokens) => $$"""{"model":"demo/echo","stream":{{(stream ? "true" : "false")}},"max_tokens":{{maxTokens}},"messages":[{"role":"user","content":"fuzz me"}]}""");

        /// <summary>A chat body: mostly well formed around hostile fields, so the checks past parsing are reached too.</summary>
        private static readonly Gen<string> ChatJson = Gen.Frequency(
            (2, ValidChat),
            (4, Gen.Select(Gen.OneOf(ChatFields).Array[0, 4], Hostile.Array[4], Message.Array[0, 3], Gen.Bool,
                (fields, values, messages, stream) =>
                {
                    var body = new StringBuilder("""{"model":"demo/echo","messages":[""").AppendJoin(',', messages).Append(']');
                    body.Append(",\"stream\":").Append(stream ? "true" : "false");
                    for (var i = 0; i < fields.Length; i++)
                    {
                        body.Append(",\"").Append(fields[i]).Append("\":").Append(values[i]);
                    }

                    return body.Append('}').ToString();
                })),
            (2, Gen.Select(Hostile, Hostile, Hostile, (name, parameters, type) =>
                "{\"model\":\"demo/echo\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":" + name + ",\"parameters\":" + parameters + "}}," +
                "{\"type\":" + type + ",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"properties\":{\"q\":{\"type\":" + type +
                ",\"enum\":" + parameters + "}}}}}],\"messages\":[{\"role\":\"user\",\"content\":\"call it\"}]}")),
            (2, Gen.Select(Gen.OneOf(PartKinds), Gen.Int[0, 3], (kind, role) =>
                """{"model":"demo/echo","tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}}],"messages":[{"role":"""
                + JsonSerializer.Serialize(Roles[role]) + ""","content":[{"type":""" + JsonSerializer.Serialize(kind) + "}]}]}")));

        private static readonly Gen<string> KeyJson = Gen.Select(Gen.OneOf(KeyFields).Array[1, 4], Hostile.Array[4],
            (fields, values) => "{" + string.Join(',', fields.Select((f, i) => $"\"{f}\":{values[i]}")) + "}");

        public static readonly Gen<byte[]> Chat = Mutated(ChatJson);

        public static readonly Gen<byte[]> Key = Mutated(KeyJson);

        public static Gen<byte[]> Credits(string accountId, string email) => Mutated(Gen.Select(Gen.Int[0, 3], Hostile, Hostile,
            (shape, a, b) => shape switch
            {
                0 => $$"""{"account_id":"{{accountId}}","amount":{{a}},"note":{{b}}}""",
                1 => $$"""{"email":"{{email}}","amount":{{a}}}""",
                2 => $$"""{"email":{{a}},"account_id":{{b}},"amount":0.01}""",
                _ => $$"""{"account_id":"{{accountId}}","amount":0.000000001,"note":"fuzz"}""",
            }));

        /// <summary>The JSON as UTF-8, sometimes left whole, sometimes cut, spliced with bytes that are not UTF-8, or replaced by random bytes.</summary>
        private static Gen<byte[]> Mutated(Gen<string> json) => Gen.Frequency(
            (6, json.Select(Encoding.UTF8.GetBytes)),
            (2, Gen.Select(json, Gen.Double[0, 1], byte[] (text, cut) =>
            {
                var bytes = Encoding.UTF8.GetBytes(text);
                return bytes[..(int)(bytes.Length * cut)];
            })),
            (2, Gen.Select(json, Gen.Double[0, 1], Gen.OneOf<byte[]>([0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE9], [0xF4, 0x90, 0x80, 0x80], [0x00], [0x1B]),
                byte[] (text, at, junk) =>
                {
                    var bytes = Encoding.UTF8.GetBytes(text);
                    var i = (int)(bytes.Length * at);
                    return [.. bytes[..i], .. junk, .. bytes[i..]];
                })),
            (1, Gen.Byte.Array[0, 200]));
    }
}
