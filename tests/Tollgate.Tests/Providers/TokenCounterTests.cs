using System.Text.Json.Nodes;
using CsCheck;
using Tollgate.Providers;

namespace Tollgate.Tests.Providers;

/// <summary>
/// The byte bound the reservation uses must never be below the exact count, whatever the text; the count, made in
/// slices so that it costs linear time, is the tokeniser's own count of the whole text.
/// </summary>
public sealed class TokenCounterTests
{
    private static readonly TokenCounter Counter = new();
    private static readonly Microsoft.ML.Tokenizers.Tokenizer Vocabulary = Microsoft.ML.Tokenizers.TiktokenTokenizer.CreateForModel("gpt-4o");

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

    [Fact]
    public void Count_InSlices_IsTheTokenisersCountOfTheWholeText() =>
        Gen.Int.Sample(seed =>
        {
            // Words of letters, digits, punctuation, CJK, emoji and line breaks; each ends in a letter, so a new word
            // begins at least every few characters, as in text (a stretch longer than 128 without one is cut: an estimate).
            var random = new Random(seed);
            const string Alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"()[]{}<>-_/\\@#$%^&*=+|~`\n\té日本語テキスト🚀";
            var text = new System.Text.StringBuilder();
            while (text.Length < 20_000)
            {
                for (var i = random.Next(0, 12); i > 0; i--)
                {
                    text.Append(Alphabet[random.Next(Alphabet.Length)]);
                }

                text.Append((char)random.Next('a', 'z' + 1)).Append(random.Next(10) == 0 ? "  " : " ");
            }

            var whole = text.ToString();
            return Counter.Count(whole, CancellationToken.None) == Vocabulary.CountTokens(whole);
        }, iter: 40);

    [Fact]
    public void Count_PastItsLimit_StopsEarlyAboveTheLimit()
    {
        var text = string.Join(' ', Enumerable.Repeat("word", 100_000));

        var count = Counter.Count(text, 1000, TestContext.Current.CancellationToken);

        Assert.InRange(count, 1001, 2000);
    }

    [Fact]
    public void Count_Cancelled_Throws()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.Throws<OperationCanceledException>(() => Counter.Count(string.Join(' ', Enumerable.Repeat("word", 10_000)), cancelled.Token));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(500)]
    [InlineData(5000)]
    public void IndexOfTokenCount_CoversAtMostThatManyTokens(int tokens)
    {
        var text = string.Join(' ', Enumerable.Range(0, 3000).Select(i => "w" + i));

        var index = Counter.IndexOfTokenCount(text, tokens, TestContext.Current.CancellationToken);

        Assert.InRange(Vocabulary.CountTokens(text[..index]), 0, tokens);
        Assert.True(index == text.Length || Vocabulary.CountTokens(text[..Math.Min(text.Length, index + 8)]) > tokens - 1);
    }
}
