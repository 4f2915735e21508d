using System.ClientModel;
using System.Net;
using System.Text.Json;
using OpenAI.Chat;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Gateway;

/// <summary>The built-in demo model through the official OpenAI SDK and raw HTTP, on a fresh Tollgate.</summary>
public sealed class DemoModelTests(TollgateFactory factory) : IClassFixture<TollgateFactory>
{
    private async Task<string> SecretAsync(string json = """{"name":"t"}""")
    {
        var account = await factory.CreateAccountAsync();
        return (await factory.CreateKeyAsync(account.Id, json)).Secret;
    }

    [Fact]
    public async Task OpenAiSdk_PlainChat_AnswersWithTollgateIdsAndUsage()
    {
        var chat = factory.OpenAiChat(await SecretAsync(), "demo/echo");

        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage("Hello!")], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("Hello from Tollgate's offline demo model. You said: Hello!", completion.Content[0].Text);
        Assert.StartsWith("gen-", completion.Id, StringComparison.Ordinal);
        Assert.Equal("demo/echo", completion.Model);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.True(completion.Usage.InputTokenCount > 0);
        Assert.True(completion.Usage.OutputTokenCount > 0);
    }

    [Fact]
    public async Task OpenAiSdk_Streaming_DeliversTheSameTextWordByWordWithUsage()
    {
        var chat = factory.OpenAiChat(await SecretAsync(), "demo/echo");
        var text = new System.Text.StringBuilder();
        var updates = 0;
        ChatTokenUsage? usage = null;
        var ids = new HashSet<string>();

        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("stream me please")], cancellationToken: TestContext.Current.CancellationToken))
        {
            updates++;
            ids.Add(update.CompletionId);
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            usage = update.Usage ?? usage;
        }

        Assert.Equal("Hello from Tollgate's offline demo model. You said: stream me please", text.ToString());
        Assert.True(updates > 10);
        Assert.Single(ids);
        Assert.StartsWith("gen-", ids.Single(), StringComparison.Ordinal);
        Assert.NotNull(usage);
        Assert.Equal(usage.InputTokenCount + usage.OutputTokenCount, usage.TotalTokenCount);
    }

    [Fact]
    public async Task OpenAiSdk_ToolCallRoundTrip_CallsTheToolThenReportsItsResult()
    {
        var chat = factory.OpenAiChat(await SecretAsync(), "demo/echo");
        var options = new ChatCompletionOptions();
        options.Tools.Add(ChatTool.CreateFunctionTool("get_weather", "Current weather", BinaryData.FromString(
            """{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}""")));
        List<ChatMessage> messages = [new UserChatMessage("Paris")];

        ChatCompletion first = await chat.CompleteChatAsync(messages, options, TestContext.Current.CancellationToken);

        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        using (var arguments = JsonDocument.Parse(call.FunctionArguments))
        {
            Assert.Equal("Paris", arguments.RootElement.GetProperty("city").GetString());
            Assert.Equal(1, arguments.RootElement.GetProperty("days").GetInt32());
        }

        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage(call.Id, "22 degrees and sunny"));
        ChatCompletion second = await chat.CompleteChatAsync(messages, options, TestContext.Current.CancellationToken);

        Assert.Equal(ChatFinishReason.Stop, second.FinishReason);
        Assert.Equal("The tool returned: 22 degrees and sunny", second.Content[0].Text);
    }

    [Fact]
    public async Task OpenAiSdk_StreamedToolCall_ArgumentDeltasConcatenateToTheArguments()
    {
        var chat = factory.OpenAiChat(await SecretAsync(), "demo/echo");
        var options = new ChatCompletionOptions();
        options.Tools.Add(ChatTool.CreateFunctionTool("lookup", "Look up", BinaryData.FromString("""{"type":"object","properties":{"q":{"type":"string"}}}""")));
        var arguments = new System.Text.StringBuilder();
        string? name = null;
        ChatFinishReason? finish = null;

        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("tollgate")], options, TestContext.Current.CancellationToken))
        {
            foreach (var part in update.ToolCallUpdates)
            {
                name ??= part.FunctionName;
                arguments.Append(part.FunctionArgumentsUpdate?.ToString());
            }

            finish = update.FinishReason ?? finish;
        }

        Assert.Equal("lookup", name);
        Assert.Equal("""{"q":"tollgate"}""", arguments.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
    }

    [Fact]
    public async Task RawStream_EveryChunkHasTheGenerationIdAndModel_UsageOnceThenDone()
    {
        using var client = factory.Client(await SecretAsync());

        using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body(
            """{"model":"demo/echo","stream":true,"messages":[{"role":"user","content":"one two three"}]}"""), TestContext.Current.CancellationToken);
        var answer = await SseAnswer.ReadAsync(response, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var generationId = response.Headers.GetValues("X-Generation-Id").Single();
        Assert.True(answer.EndsWithDone);
        Assert.All(answer.Chunks, c =>
        {
            Assert.Equal(generationId, c.GetProperty("id").GetString());
            Assert.Equal("demo/echo", c.GetProperty("model").GetString());
            Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString());
        });
        var withUsage = answer.Chunks.Where(c => c.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object).ToArray();
        var usageChunk = Assert.Single(withUsage);
        Assert.Equal(usageChunk.GetRawText(), answer.Chunks[^1].GetRawText());
        Assert.Equal(0, usageChunk.GetProperty("choices").GetArrayLength());
        Assert.True(usageChunk.GetProperty("usage").GetProperty("cost").GetDecimal() > 0);
        var finish = answer.Chunks.Single(c => c.GetProperty("choices").GetArrayLength() > 0 &&
            c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind == JsonValueKind.String);
        Assert.Equal("stop", finish.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal("stop", finish.GetProperty("choices")[0].GetProperty("native_finish_reason").GetString());
        Assert.EndsWith("one two three", answer.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RawJson_CostIsTheTokensTimesTheCataloguePrices()
    {
        using var client = factory.Client(await SecretAsync());

        using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body(
            """{"model":"demo/echo","messages":[{"role":"user","content":"price me"}]}"""), TestContext.Current.CancellationToken);
        var body = await response.ReadAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(response.Headers.GetValues("X-Generation-Id").Single(), body.GetProperty("id").GetString());
        var usage = body.GetProperty("usage");
        var prompt = usage.GetProperty("prompt_tokens").GetInt32();
        var completion = usage.GetProperty("completion_tokens").GetInt32();
        Assert.Equal(prompt + completion, usage.GetProperty("total_tokens").GetInt32());
        Assert.Equal(0, usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.Equal(prompt * 0.000001m + completion * 0.000002m, usage.GetProperty("cost").GetDecimal());
    }

    [Fact]
    public async Task MaxTokens_CutsTheAnswerWithFinishReasonLength()
    {
        using var client = factory.Client(await SecretAsync());

        using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body(
            """{"model":"demo/echo","max_tokens":3,"messages":[{"role":"user","content":"a long message that cannot fit"}]}"""), TestContext.Current.CancellationToken);
        var choice = (await response.ReadAsync()).GetProperty("choices")[0];

        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.True((await response.ReadAsync()).GetProperty("usage").GetProperty("completion_tokens").GetInt32() <= 3);
    }

    [Fact]
    public async Task OpenAiSdk_BadKey_Gets401FromTheSdk()
    {
        factory.StartServer();
        var chat = factory.OpenAiChat("sk-tg-v1-not-a-real-key", "demo/echo");

        var error = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(401, error.Status);
    }
}
