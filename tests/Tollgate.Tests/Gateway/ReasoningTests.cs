using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tollgate.Tests.Infrastructure;
using FakeAnswer = Tollgate.FakeUpstream.Serving.Answer;

namespace Tollgate.Tests.Gateway;

/// <summary>
/// Reasoning end to end, as the Cline extension uses it: OpenRouter's <c>reasoning</c> in, Anthropic's thinking
/// requested within its rules, <c>reasoning</c> and signed <c>reasoning_details</c> out (streamed and not), passed
/// back on the next turn as signed thinking before the tool use, and billed as completion tokens.
/// </summary>
public sealed class ReasoningTests(ReasoningFixture fixture) : IClassFixture<ReasoningFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The "cline" provider's request: OpenRouter's shape, cache marks on the system prompt, a tool, reasoning by budget.</summary>
    private static JsonObject ClineTurnOne(string model, bool stream) => JsonNode.Parse("""
        {
          "model": "",
          "messages": [
            {"role": "system", "content": [{"type": "text", "text": "You are Cline, a highly skilled software engineer.", "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": [{"type": "text", "text": "<task>What is the weather in Paris?</task>", "cache_control": {"type": "ephemeral"}}]}
          ],
          "temperature": 0,
          "stream": false,
          "stream_options": {"include_usage": true},
          "include_reasoning": true,
          "reasoning": {"max_tokens": 2048},
          "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}, "required": ["city"]}}}]
        }
        """)!.AsObject().Also(b => (b["model"], b["stream"]) = (model, stream));

    [Fact]
    public async Task ClineTurnOne_Streamed_ThinkingReachesAnthropic_ReasoningAndTheSignatureComeBack()
    {
        var (_, secret) = await fixture.AccountAsync();
        var body = ClineTurnOne("fake/claude-thinking-tool", stream: true);
        body.Remove("temperature"); // Cline sends none when thinking is on

        var chunks = await ClineStreamAsync(secret, body);

        var upstream = LastBody("claude-thinking-tool");
        Assert.Equal("""{"type":"enabled","budget_tokens":2048}""", upstream["thinking"]!.ToJsonString());
        Assert.False(upstream.ContainsKey("temperature"));
        Assert.Equal("ephemeral", upstream["system"]![0]!["cache_control"]!["type"]!.GetValue<string>());
        var deltas = chunks.Where(c => c["choices"] is JsonArray { Count: > 0 }).Select(c => c["choices"]![0]!["delta"]!.AsObject()).ToArray();
        Assert.Equal(FakeAnswer.ThinkingText, string.Concat(deltas.Select(d => (string?)d["reasoning"])));
        var details = deltas.SelectMany(d => d["reasoning_details"]?.AsArray() ?? []).Select(d => d!.AsObject()).ToArray();
        Assert.All(details, d => Assert.Equal(("reasoning.text", "anthropic-claude-v1", 0),
            (d["type"]!.GetValue<string>(), d["format"]!.GetValue<string>(), d["index"]!.GetValue<int>())));
        Assert.Equal(FakeAnswer.ThinkingSignature, details.Select(d => (string?)d["signature"]).Single(s => s is not null));
        Assert.Contains(deltas, d => d["tool_calls"] is not null);
        var usage = chunks.Last(c => c["usage"] is JsonObject)["usage"]!;
        Assert.InRange(usage["completion_tokens_details"]!["reasoning_tokens"]!.GetValue<int>(), 1, usage["completion_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task ClineTurnTwo_PassesTheReasoningBack_ItReachesAnthropicAsSignedThinkingBeforeTheToolUse()
    {
        var (_, secret) = await fixture.AccountAsync();
        var turnOne = ClineTurnOne("fake/claude-thinking-tool", stream: true);
        turnOne.Remove("temperature");
        var chunks = await ClineStreamAsync(secret, turnOne);
        var deltas = chunks.Where(c => c["choices"] is JsonArray { Count: > 0 }).Select(c => c["choices"]![0]!["delta"]!.AsObject()).ToArray();

        // What Cline keeps of the answer: the details merged by index, the tool call, and then the tool's result.
        var merged = new JsonObject { ["type"] = "reasoning.text", ["text"] = "", ["format"] = "anthropic-claude-v1", ["index"] = 0 };
        foreach (var detail in deltas.SelectMany(d => d["reasoning_details"]?.AsArray() ?? []))
        {
            merged["text"] = (string)merged["text"]! + ((string?)detail!["text"] ?? "");
            if (detail["signature"] is { } signature)
            {
                merged["signature"] = signature.GetValue<string>();
            }
        }

        var call = deltas.First(d => d["tool_calls"] is not null)["tool_calls"]![0]!;
        var turnTwo = ClineTurnOne("fake/claude-thinking-tool", stream: true);
        turnTwo.Remove("temperature");
        var messages = turnTwo["messages"]!.AsArray();
        messages.Add(JsonNode.Parse($$$"""
            {"role": "assistant", "content": "", "reasoning_details": [{{{merged.ToJsonString()}}}],
             "tool_calls": [{"id": "{{{(string)call["id"]!}}}", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}
            """));
        messages.Add(JsonNode.Parse($$"""{"role": "tool", "tool_call_id": "{{(string)call["id"]!}}", "content": "18°C and sunny"}"""));

        var second = await ClineStreamAsync(secret, turnTwo);

        Assert.DoesNotContain(second, c => c["error"] is not null);
        var assistant = LastBody("claude-thinking-tool")["messages"]!.AsArray().Single(m => (string?)m!["role"] == "assistant")!["content"]!.AsArray();
        Assert.Equal(("thinking", FakeAnswer.ThinkingText, FakeAnswer.ThinkingSignature),
            ((string)assistant[0]!["type"]!, (string)assistant[0]!["thinking"]!, (string)assistant[0]!["signature"]!));
        Assert.Equal("tool_use", (string)assistant[1]!["type"]!);

        // Without the details Anthropic refuses the turn, and the client is told why.
        messages[2]!.AsObject().Remove("reasoning_details");
        using var api = fixture.Tollgate.Client(secret);
        using var refused = await api.PostAsync("/api/v1/chat/completions", Json.Body(turnTwo.ToJsonString()), Ct);
        var text = await refused.Content.ReadAsStringAsync(Ct);
        Assert.True(refused.StatusCode == HttpStatusCode.BadRequest || text.Contains("\"error\"", StringComparison.Ordinal), text);
        Assert.Contains("thinking", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NotStreamed_ThinkingBecomesReasoningAndSignedDetails_AndRoundTrips()
    {
        var (_, secret) = await fixture.AccountAsync();
        using var api = fixture.Tollgate.Client(secret);
        var body = ClineTurnOne("fake/claude-thinking-tool", stream: false);
        body.Remove("temperature");

        var answer = await PostAsync(api, body);

        var message = answer["choices"]![0]!["message"]!;
        Assert.Equal(FakeAnswer.ThinkingText, (string?)message["reasoning"]);
        var detail = message["reasoning_details"]!.AsArray().Single()!;
        Assert.Equal("""{"type":"reasoning.text","text":"Thinking it through first.","signature":"EqQBCkgIARABGAIiQFakeUpstreamSignatureOfTheThinkingBlock","format":"anthropic-claude-v1","index":0}""",
            detail.ToJsonString());
        Assert.Equal("tool_calls", (string?)answer["choices"]![0]!["finish_reason"]);

        // The whole message goes back as the client got it.
        var call = message["tool_calls"]![0]!;
        body["messages"]!.AsArray().Add(message.DeepClone());
        body["messages"]!.AsArray().Add(JsonNode.Parse($$"""{"role":"tool","tool_call_id":"{{(string)call["id"]!}}","content":"18°C"}"""));
        var next = await PostAsync(api, body);
        Assert.Equal("tool_calls", (string?)next["choices"]![0]!["finish_reason"]);
        var sent = LastBody("claude-thinking-tool")["messages"]!.AsArray().Single(m => (string?)m!["role"] == "assistant")!["content"]![0]!;
        Assert.Equal("thinking", (string?)sent["type"]);
    }

    [Fact]
    public async Task RedactedThinking_BecomesAnEncryptedDetail_AndGoesBackAsRedactedThinking()
    {
        var (_, secret) = await fixture.AccountAsync();
        using var api = fixture.Tollgate.Client(secret);
        var body = JsonNode.Parse("""{"model":"fake/claude-redacted","reasoning":{"effort":"medium"},"messages":[{"role":"user","content":"hi"}]}""")!.AsObject();

        var answer = await PostAsync(api, body);
        var details = answer["choices"]![0]!["message"]!["reasoning_details"]!.AsArray();
        Assert.Equal("""{"type":"reasoning.encrypted","data":"EmwKAhgBEgy3va3pzix/LafPsn4aDFakeRedactedThinking","format":"anthropic-claude-v1","index":1}""",
            details[1]!.ToJsonString());
        Assert.Equal(4096, LastBody("claude-redacted")["thinking"]!["budget_tokens"]!.GetValue<int>()); // medium: half of the model's 8192

        var stream = await SseAsync(api, body.DeepClone().AsObject().Also(b => b["stream"] = true));
        Assert.Contains(stream, c => Delta(c)?["reasoning_details"]?[0]?["type"]?.GetValue<string>() == "reasoning.encrypted");

        body["messages"]!.AsArray().Add(answer["choices"]![0]!["message"]!.DeepClone());
        body["messages"]!.AsArray().Add(JsonNode.Parse("""{"role":"user","content":"and then?"}"""));
        await PostAsync(api, body);
        var sent = LastBody("claude-redacted")["messages"]![1]!["content"]!.AsArray();
        Assert.Equal(["thinking", "redacted_thinking", "text"], sent.Select(b => (string)b!["type"]!));
    }

    [Theory]
    [InlineData("""{"reasoning":{"max_tokens":512}}""", "reasoning.max_tokens", "at least 1024")]
    [InlineData("""{"max_tokens":2048,"reasoning":{"max_tokens":2048}}""", "reasoning.max_tokens", "below max_tokens (2048)")]
    [InlineData("""{"max_tokens":3000,"reasoning_effort":"low"}""", "max_tokens", "at least 1024")]
    [InlineData("""{"reasoning":{"effort":"high"},"temperature":0.2}""", "temperature", "temperature must be 1")]
    [InlineData("""{"include_reasoning":true,"top_k":40}""", "top_k", "top_k")]
    [InlineData("""{"reasoning":{"max_tokens":2048},"tool_choice":"required","tools":[{"type":"function","function":{"name":"f"}}]}""", "tool_choice", "force a tool")]
    [InlineData("""{"reasoning":"high"}""", "reasoning", "must be an object")]
    [InlineData("""{"reasoning":{"effort":"extreme"}}""", "reasoning.effort", "must be one of")]
    [InlineData("""{"reasoning_effort":3}""", "reasoning_effort", "must be one of")]
    [InlineData("""{"reasoning":{"exclude":"yes"}}""", "reasoning.exclude", "true or false")]
    public async Task ARequestAnthropicWouldRefuse_Is400NamingTheField_NothingReachesTheUpstream_NothingIsCharged(string extra, string field, string message)
    {
        var (accountId, secret) = await fixture.AccountAsync();
        using var api = fixture.Tollgate.Client(secret);
        var body = JsonNode.Parse("""{"model":"fake/claude-thinking","messages":[{"role":"user","content":"hi"}]}""")!.AsObject();
        foreach (var (name, value) in JsonNode.Parse(extra)!.AsObject())
        {
            body[name] = value?.DeepClone();
        }

        var before = fixture.RequestsFor("claude-thinking").Count;
        using var response = await api.PostAsync("/api/v1/chat/completions", Json.Body(body.ToJsonString()), Ct);

        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["error"]!;
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, (string?)error["message"], StringComparison.Ordinal);
        Assert.Equal(field, (string?)error["metadata"]!["param"]);
        Assert.Equal(before, fixture.RequestsFor("claude-thinking").Count);
        Assert.Equal(0, fixture.Tollgate.Service<Tollgate.Credits.CreditLedger>().ReservedFor(accountId));
        await Adversarial.LedgerAudit.AssertBooksBalanceAsync(fixture.Tollgate, accountId);
        Assert.Equal(0, Adversarial.LedgerAudit.Charges(fixture.Tollgate, accountId).CostNanos);
    }

    [Fact]
    public async Task Exclude_HidesTheReasoning_ButTheTokensAreBilled()
    {
        var (_, secret) = await fixture.AccountAsync();
        using var api = fixture.Tollgate.Client(secret);
        var body = JsonNode.Parse("""{"model":"fake/claude-thinking","reasoning":{"max_tokens":2048,"exclude":true},"messages":[{"role":"user","content":"hi"}]}""")!.AsObject();

        var answer = await PostAsync(api, body);
        var streamed = await SseAsync(api, body.DeepClone().AsObject().Also(b => b["stream"] = true));

        Assert.Equal("enabled", (string?)LastBody("claude-thinking")["thinking"]!["type"]);
        Assert.False(answer["choices"]![0]!["message"]!.AsObject().ContainsKey("reasoning"));
        Assert.False(answer["choices"]![0]!["message"]!.AsObject().ContainsKey("reasoning_details"));
        Assert.DoesNotContain(streamed, c => Delta(c)?["reasoning"] is not null || Delta(c)?["reasoning_details"] is not null);
        var usage = answer["usage"]!;
        Assert.Equal(8 + FakeAnswer.ThinkingChunks.Count, usage["completion_tokens"]!.GetValue<int>());
        Assert.True(usage["completion_tokens_details"]!["reasoning_tokens"]!.GetValue<int>() > 0);
        Assert.Equal((8 + FakeAnswer.ThinkingChunks.Count) * 0.000015m + usage["prompt_tokens"]!.GetValue<int>() * 0.000003m, usage["cost"]!.GetValue<decimal>());
        Assert.Equal(8 + FakeAnswer.ThinkingChunks.Count, streamed.Last(c => c["usage"] is JsonObject)["usage"]!["completion_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task AModelWithoutReasoning_TakesTheRequest_WithoutThinking()
    {
        var (_, secret) = await fixture.AccountAsync();
        using var api = fixture.Tollgate.Client(secret);
        var body = JsonNode.Parse("""{"model":"fake/claude-plain","temperature":0.3,"reasoning":{"max_tokens":100000},"include_reasoning":true,"messages":[{"role":"user","content":"hi"}]}""")!.AsObject();

        var answer = await PostAsync(api, body);

        var upstream = LastBody("claude-plain");
        Assert.False(upstream.ContainsKey("thinking"));
        Assert.Equal(0.3, upstream["temperature"]!.GetValue<double>());
        Assert.Equal("w1 w2 w3 w4 w5 w6 w7 w8", (string?)answer["choices"]![0]!["message"]!["content"]);
        Assert.Equal(0, answer["usage"]!["completion_tokens_details"]!["reasoning_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task OpenAiCompatible_ReasoningEffortIsPassedOn_ReasoningContentComesOutAsReasoning_StreamedAndNot()
    {
        var (_, secret) = await fixture.AccountAsync();
        using var api = fixture.Tollgate.Client(secret);
        var body = JsonNode.Parse("""
            {"model":"fake/gpt-reasoning","reasoning":{"effort":"high"},"include_reasoning":true,
             "messages":[{"role":"user","content":"hi"},
                         {"role":"assistant","content":"earlier","reasoning":"old thoughts","reasoning_content":"old thoughts",
                          "reasoning_details":[{"type":"reasoning.text","text":"old thoughts","format":"unknown","index":0}]},
                         {"role":"user","content":"again"}]}
            """)!.AsObject();

        var answer = await PostAsync(api, body);
        var streamed = await SseAsync(api, body.DeepClone().AsObject().Also(b => b["stream"] = true));

        var upstream = LastBody("gpt-reasoning");
        Assert.Equal("high", (string?)upstream["reasoning_effort"]);
        Assert.False(upstream.ContainsKey("reasoning"));
        Assert.False(upstream.ContainsKey("include_reasoning"));
        Assert.Equal(["content", "role"], upstream["messages"]![1]!.AsObject().Select(p => p.Key).Order());
        var message = answer["choices"]![0]!["message"]!.AsObject();
        Assert.Equal(FakeAnswer.ThinkingText, (string?)message["reasoning"]);
        Assert.False(message.ContainsKey("reasoning_content"));
        Assert.Equal("""[{"type":"reasoning.text","text":"Thinking it through first.","format":"unknown","index":0}]""", message["reasoning_details"]!.ToJsonString());
        Assert.Equal(FakeAnswer.ThinkingChunks.Count, answer["usage"]!["completion_tokens_details"]!["reasoning_tokens"]!.GetValue<int>());
        var deltas = streamed.Where(c => c["choices"] is JsonArray { Count: > 0 }).Select(c => c["choices"]![0]!["delta"]!).ToArray();
        Assert.Equal(FakeAnswer.ThinkingText, string.Concat(deltas.Select(d => (string?)d["reasoning"])));
        Assert.Equal(FakeAnswer.ThinkingText, string.Concat(deltas.SelectMany(d => d["reasoning_details"]?.AsArray() ?? []).Select(d => (string?)d!["text"])));
        Assert.Equal(FakeAnswer.ThinkingChunks.Count, streamed.Last(c => c["usage"] is JsonObject)["usage"]!["completion_tokens_details"]!["reasoning_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task OpenAiCompatible_ModelWithoutReasoning_GetsNoReasoningField_ButReasoningItReturnsStillComesOut_UnlessExcluded()
    {
        var (_, secret) = await fixture.AccountAsync();
        using var api = fixture.Tollgate.Client(secret);
        var body = JsonNode.Parse("""{"model":"fake/gpt-plain","reasoning_effort":"low","messages":[{"role":"user","content":"hi"}]}""")!.AsObject();

        var answer = await PostAsync(api, body);
        Assert.False(LastBody("gpt-plain").ContainsKey("reasoning_effort"));
        Assert.Equal(FakeAnswer.ThinkingText, (string?)answer["choices"]![0]!["message"]!["reasoning"]);

        body["reasoning"] = JsonNode.Parse("""{"exclude":true}""");
        var hidden = await PostAsync(api, body);
        var streamed = await SseAsync(api, body.DeepClone().AsObject().Also(b => b["stream"] = true));
        Assert.Equal(new[] { "annotations", "content", "refusal", "role" }, hidden["choices"]![0]!["message"]!.AsObject().Select(p => p.Key).Order());
        Assert.DoesNotContain(streamed, c => Delta(c)?.Any(p => p.Key.StartsWith("reasoning", StringComparison.Ordinal)) == true);
        Assert.Equal(8 + FakeAnswer.ThinkingChunks.Count, hidden["usage"]!["completion_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task ReasoningTokens_AreInTheGenerationRecord_AndTheCatalogueSaysWhichModelsReason()
    {
        var (_, secret) = await fixture.AccountAsync();
        using var api = fixture.Tollgate.Client(secret);
        var answer = await PostAsync(api, JsonNode.Parse("""{"model":"fake/gpt-reasoning","messages":[{"role":"user","content":"hi"}]}""")!.AsObject());

        await fixture.Tollgate.Service<Tollgate.Credits.BillingWriter>().FlushAsync(Ct);
        var generation = JsonNode.Parse(await api.GetStringAsync($"/api/v1/generation?id={(string)answer["id"]!}", Ct))!["data"]!;
        Assert.Equal(FakeAnswer.ThinkingChunks.Count, generation["native_tokens_reasoning"]!.GetValue<int>());

        var models = JsonNode.Parse(await api.GetStringAsync("/api/v1/models", Ct))!["data"]!.AsArray();
        var parameters = models.ToDictionary(m => (string)m!["id"]!, m => m!["supported_parameters"]!.AsArray().Select(p => (string)p!).ToArray());
        Assert.Contains("reasoning", parameters["fake/claude-thinking"]);
        Assert.Contains("include_reasoning", parameters["fake/gpt-reasoning"]);
        Assert.DoesNotContain("reasoning", parameters["fake/claude-plain"]);
    }

    private static JsonObject? Delta(JsonObject chunk) => chunk["choices"] is JsonArray { Count: > 0 } choices ? choices[0]!["delta"] as JsonObject : null;

    private JsonObject LastBody(string upstreamModel) => JsonNode.Parse(fixture.RequestsFor(upstreamModel)[^1].Body)!.AsObject();

    private static async Task<JsonObject> PostAsync(HttpClient api, JsonObject body)
    {
        using var response = await api.PostAsync("/api/v1/chat/completions", Json.Body(body.ToJsonString()), Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    private static async Task<List<JsonObject>> SseAsync(HttpClient api, JsonObject body)
    {
        using var response = await api.PostAsync("/api/v1/chat/completions", Json.Body(body.ToJsonString()), Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await SseAnswer.ReadAsync(response, Ct);
        Assert.True(answer.EndsWithDone, string.Join("\n", answer.Data));
        return [.. answer.Data.Where(d => d != "[DONE]").Select(d => JsonNode.Parse(d)!.AsObject())];
    }

    /// <summary>The body sent as Cline sends it: the official OpenAI SDK's raw call, with Cline's headers; the stream read whole.</summary>
    private async Task<List<JsonObject>> ClineStreamAsync(string secret, JsonObject body)
    {
        var chat = fixture.Tollgate.OpenAiChat(secret, (string)body["model"]!);
        var options = new RequestOptions { BufferResponse = false, CancellationToken = Ct };
        options.AddHeader("HTTP-Referer", "https://cline.bot");
        options.AddHeader("X-Title", "Cline");
        options.AddHeader("X-Task-ID", "task-" + Guid.NewGuid().ToString("N"));
        var result = await chat.CompleteChatAsync(BinaryContent.Create(BinaryData.FromString(body.ToJsonString())), options);
        using var reader = new StreamReader(result.GetRawResponse().ContentStream!);
        var chunks = new List<JsonObject>();
        while (await reader.ReadLineAsync(Ct) is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal) && line != "data: [DONE]")
            {
                chunks.Add(JsonNode.Parse(line["data: ".Length..])!.AsObject());
            }
        }

        return chunks;
    }
}

internal static class JsonObjectExtensions
{
    /// <summary>The object after <paramref name="change"/>: for building a variant of a body inline.</summary>
    public static JsonObject Also(this JsonObject node, Action<JsonObject> change)
    {
        change(node);
        return node;
    }
}
