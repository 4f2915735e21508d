using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// Prompt content that is not text: images, audio, files, legacy functions, response_format schemas.
/// Each has a ceiling in the reservation; a cut stream bills the upstream's own prompt count (issue 9, item 2).
/// </summary>
public sealed class NonTextContentAttacks(HostileFixture hostile) : IClassFixture<HostileFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<HttpResponseMessage> PostAsync(string secret, JsonObject body)
    {
        using var client = hostile.Tollgate.Client(secret);
        return await client.PostAsync("/api/v1/chat/completions", Json.Body(body.ToJsonString()), Ct);
    }

    private static JsonObject Image(int i) => new()
    {
        ["type"] = "image_url",
        ["image_url"] = new JsonObject { ["url"] = $"https://images.example.com/{i}.png", ["detail"] = "high" },
    };

    private static JsonObject Chat(params JsonObject[] messages) => new()
    {
        ["model"] = "hostile/gpt",
        ["max_tokens"] = 1,
        ["messages"] = new JsonArray(messages),
    };

    // Issue 9, item 2: 100 images with max_tokens: 1 were admitted on $0.001 and charged $0.10.
    [Theory]
    [InlineData("user")]
    [InlineData("assistant")]
    [InlineData("tool")]
    public async Task HundredImages_OnAThousandthOfADollar_Get402(string role)
    {
        hostile.Upstream.Answer = (context, body) => UpstreamAnswers.OpenAiAsync(context, body);
        var (accountId, secret) = await hostile.AccountAsync(0.001m);
        var images = new JsonArray([new JsonObject { ["type"] = "text", ["text"] = "what is in these?" }, .. Enumerable.Range(0, 100).Select(Image)]);
        var message = new JsonObject { ["role"] = role, ["content"] = images };
        if (role == "tool")
        {
            message["tool_call_id"] = "call_1";
        }

        using var response = await PostAsync(secret, Chat(message, new JsonObject { ["role"] = "user", ["content"] = "describe them" }));

        await response.AssertErrorAsync(HttpStatusCode.PaymentRequired);
        Assert.Equal(Money.ToNanos(0.001m), await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId));
    }

    // Issue 9, item 2: audio, files, legacy functions and response_format schemas count by their bytes.
    [Theory]
    [InlineData("input_audio")]
    [InlineData("file")]
    [InlineData("functions")]
    [InlineData("response_format")]
    public async Task LargeNonTextContent_OnAThousandthOfADollar_Gets402(string kind)
    {
        hostile.Upstream.Answer = (context, body) => UpstreamAnswers.OpenAiAsync(context, body);
        var (accountId, secret) = await hostile.AccountAsync(0.001m); // 1,000 prompt tokens; the payload is 20,000 bytes
        var payload = Convert.ToBase64String(new byte[15_000]);
        var body = Chat(new JsonObject { ["role"] = "user", ["content"] = "hi" });
        switch (kind)
        {
            case "input_audio":
                body["messages"]![0]!["content"] = new JsonArray(new JsonObject
                {
                    ["type"] = "input_audio",
                    ["input_audio"] = new JsonObject { ["data"] = payload, ["format"] = "wav" },
                });
                break;
            case "file":
                body["messages"]![0]!["content"] = new JsonArray(new JsonObject
                {
                    ["type"] = "file",
                    ["file"] = new JsonObject { ["filename"] = "a.pdf", ["file_data"] = "data:application/pdf;base64," + payload },
                });
                break;
            case "functions":
                body["functions"] = new JsonArray(new JsonObject { ["name"] = "f", ["description"] = payload, ["parameters"] = new JsonObject() });
                break;
            case "response_format":
                body["response_format"] = new JsonObject
                {
                    ["type"] = "json_schema",
                    ["json_schema"] = new JsonObject { ["name"] = "s", ["schema"] = new JsonObject { ["description"] = payload } },
                };
                break;
        }

        using var response = await PostAsync(secret, body);

        await response.AssertErrorAsync(HttpStatusCode.PaymentRequired);
        Assert.Equal(Money.ToNanos(0.001m), await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId));
    }

    // Issue 9, item 2: an affordable request with images is admitted, and what the upstream bills stays within the reservation.
    [Fact]
    public async Task AffordableImages_AreAdmitted_AndTheBooksBalance()
    {
        long reservedWhenCalled = 0;
        string accountId = "";
        hostile.Upstream.Answer = (context, body) =>
        {
            reservedWhenCalled = hostile.Tollgate.Service<CreditLedger>().ReservedFor(accountId);
            return UpstreamAnswers.OpenAiAsync(context, body);
        };
        (accountId, var secret) = await hostile.AccountAsync(0.05m);

        using var response = await PostAsync(secret, Chat(new JsonObject { ["role"] = "user", ["content"] = new JsonArray(Image(1), Image(2), Image(3)) }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var charged = (decimal)(await response.ReadAsync()).GetProperty("usage").GetProperty("cost").GetDecimal();
        Assert.True(Money.ToNanos(charged) <= reservedWhenCalled, $"charged {charged} USD, reserved {reservedWhenCalled} nanos");
        Assert.True(Money.ToNanos(charged) >= Money.ToNanos(3 * HostileFixture.ImageCeiling * HostileFixture.PromptPrice));
        await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId);
    }

    // Issue 9, item 2: a file_id names a file of the operator's upstream account, of unknown size and owner.
    [Fact]
    public async Task FileId_IsRefusedWith400()
    {
        var (_, secret) = await hostile.AccountAsync(1m);
        var body = Chat(new JsonObject
        {
            ["role"] = "user",
            ["content"] = new JsonArray(new JsonObject { ["type"] = "file", ["file"] = new JsonObject { ["file_id"] = "file-abc123" } }),
        });

        using var response = await PostAsync(secret, body);

        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Contains("file_id", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    // Issue 9, item 2: a stream cut after the first delta bills the prompt the upstream counted in message_start, not an estimate.
    [Fact]
    public async Task AnthropicStreamCutAfterTheFirstDelta_BillsTheUpstreamsOwnPromptCount()
    {
        hostile.Upstream.Answer = async (context, _) =>
        {
            await HostileUpstream.WriteEventsAsync(context,
            [
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-hostile\",\"content\":[],\"usage\":{\"input_tokens\":5000,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}",
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}",
            ]);
            await HostileUpstream.CutAsync(context);
        };
        var (accountId, secret) = await hostile.AccountAsync(1m);
        var body = Chat(new JsonObject { ["role"] = "user", ["content"] = "hi" });
        body["model"] = "hostile/claude";
        body["stream"] = true;
        body["max_tokens"] = 100;

        using var response = await PostAsync(secret, body);
        var text = await response.Content.ReadAsStringAsync(Ct);

        Assert.Contains("Hello", text, StringComparison.Ordinal);
        Assert.Contains("\"error\"", text, StringComparison.Ordinal);
        var generationId = response.Headers.GetValues("X-Generation-Id").Single();
        await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId);
        Assert.Equal(5000, Record(generationId, "prompt_tokens"));
        Assert.True(Record(generationId, "cost_nanos") >= Money.ToNanos(5000 * HostileFixture.PromptPrice));
        Assert.Equal(1, Record(generationId, "estimated"));
    }

    private long Record(string generationId, string column)
    {
        using var connection = new SqliteConnection($"Data Source={hostile.Tollgate.DatabasePath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {column} FROM usage_records WHERE generation_id = $g";
        command.Parameters.AddWithValue("$g", generationId);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
