using System.Text.Json.Nodes;
using CsCheck;
using Tollgate.Providers;

namespace Tollgate.Tests.Providers;

/// <summary>The byte bound the reservation uses must never be below the exact count, whatever the text.</summary>
public sealed class TokenCounterTests
{
    private static readonly TokenCounter Counter = new();

    private static JsonObject Body(string text, bool parts, bool tools) => new()
    {
        ["model"] = "m",
        ["messages"] = new JsonArray(
            new JsonObject { ["role"] = "system", ["content"] = text },
            new JsonObject
            {
                ["role"] = "user",
                ["name"] = text.Length > 3 ? text[..3] : text,
                ["content"] = parts
                    ? new JsonArray(new JsonObject { ["type"] = "text", ["text"] = text }, new JsonObject { ["type"] = "text", ["text"] = text + text })
                    : text,
            },
            new JsonObject
            {
                ["role"] = "assistant",
                ["tool_calls"] = new JsonArray(new JsonObject { ["id"] = "c", ["function"] = new JsonObject { ["name"] = "f", ["arguments"] = text } }),
            }),
        ["tools"] = tools ? new JsonArray(new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "f", ["description"] = text } }) : null,
    };

    [Theory]
    [InlineData("hi")]
    [InlineData("")]
    [InlineData("日本語のテキストと絵文字 🚀🚀🚀 mixed with English")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    [InlineData("{\"json\": [1, 2, 3], \"quote\": \"\\\"\"}")]
    public void UpperBound_IsAtLeastTheExactCount(string text)
    {
        var body = Body(text, parts: true, tools: true);
        Assert.True(TokenCounter.PromptUpperBound(body).Tokens >= Counter.CountPrompt(body, TestContext.Current.CancellationToken).Tokens);
    }

    [Fact]
    public void UpperBound_IsAtLeastTheExactCount_ForAnyText() =>
        Gen.Select(Gen.String, Gen.Bool, Gen.Bool).Sample((text, parts, tools) =>
        {
            var body = Body(text, parts, tools);
            return TokenCounter.PromptUpperBound(body).Tokens >= Counter.CountPrompt(body, TestContext.Current.CancellationToken).Tokens;
        }, iter: 300);
}
