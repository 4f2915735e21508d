using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using CsCheck;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// The rule behind issue 9's first items, as a property: for random chat bodies of every content kind,
/// with <c>n</c>, caps, tools and price-changing fields, the reservation held while the upstream works is
/// never below what the upstream bills for what Tollgate sent it — billing at its worst (see
/// <see cref="UpstreamAnswers"/>), at twice the price for a priority tier — and the client is charged
/// exactly what the upstream reported.
/// </summary>
public sealed class ReservationPropertyAttacks(HostileFixture hostile) : IClassFixture<HostileFixture>
{
    private static readonly Gen<string> Text = Gen.String[0, 300];

    private static readonly Gen<JsonNode> Part = Gen.OneOf<JsonNode>(
        Text.Select(t => (JsonNode)new JsonObject { ["type"] = "text", ["text"] = t }),
        Gen.Int[0, 4000].Select(n => (JsonNode)new JsonObject
        {
            ["type"] = "image_url",
            ["image_url"] = new JsonObject { ["url"] = n % 2 == 0 ? $"https://example.com/{n}.png" : "data:image/png;base64," + new string('A', n) },
        }),
        Gen.Int[0, 3000].Select(n => (JsonNode)new JsonObject
        {
            ["type"] = "input_audio",
            ["input_audio"] = new JsonObject { ["data"] = new string('B', n), ["format"] = "wav" },
        }),
        Gen.Int[0, 3000].Select(n => (JsonNode)new JsonObject
        {
            ["type"] = "file",
            ["file"] = new JsonObject { ["filename"] = "f.pdf", ["file_data"] = "data:application/pdf;base64," + new string('C', n) },
        }));

    private static readonly Gen<JsonNode> Content = Gen.OneOf(
        Text.Select(t => (JsonNode)JsonValue.Create(t)),
        Part.Array[1, 4].Select(parts => (JsonNode)new JsonArray(parts)));

    private static readonly Gen<JsonObject> Message = Gen.Select(Gen.Int[0, 3], Content, Text).Select((role, content, extra) =>
    {
        var message = new JsonObject { ["role"] = new[] { "system", "user", "assistant", "tool" }[role], ["content"] = content };
        if (role == 2 && extra.Length % 2 == 0)
        {
            message["tool_calls"] = new JsonArray(new JsonObject
            {
                ["id"] = "call_1",
                ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = "f", ["arguments"] = new JsonObject { ["q"] = extra }.ToJsonString() },
            });
        }

        if (role == 3)
        {
            message["tool_call_id"] = "call_1";
        }

        return message;
    });

    private static readonly Gen<int?> Cap = Gen.Int[1, HostileFixture.Cap].Nullable();

    private static readonly Gen<string?> OptionalText = Gen.Bool.SelectMany(present => Text.Select(t => present ? t : null));

    private static readonly Gen<JsonObject> Body = Gen.Select(Message.Array[1, 4], Gen.Select(Gen.Int[1, 4].Nullable(), Cap, Cap),
            Gen.Select(Text.Array[0, 2], OptionalText, OptionalText), Gen.Select(Gen.Bool, Gen.Bool))
        .Select((messages, numbers, schemas, flags) =>
        {
            var (n, maxTokens, maxCompletionTokens) = numbers;
            var (tools, functionDescription, schemaDescription) = schemas;
            var (stream, priority) = flags;
            var body = new JsonObject { ["model"] = "hostile/gpt", ["stream"] = stream, ["messages"] = new JsonArray(messages) };
            Set(body, "n", n);
            Set(body, "max_tokens", maxTokens);
            Set(body, "max_completion_tokens", maxCompletionTokens);
            if (tools.Length > 0)
            {
                body["tools"] = new JsonArray([.. tools.Select(d => (JsonNode)new JsonObject
                {
                    ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = "f", ["description"] = d, ["parameters"] = new JsonObject { ["type"] = "object" } },
                })]);
            }

            if (functionDescription is not null)
            {
                body["functions"] = new JsonArray(new JsonObject { ["name"] = "g", ["description"] = functionDescription });
            }

            if (schemaDescription is not null)
            {
                body["response_format"] = new JsonObject
                {
                    ["type"] = "json_schema",
                    ["json_schema"] = new JsonObject { ["name"] = "s", ["schema"] = new JsonObject { ["description"] = schemaDescription } },
                };
            }

            if (priority)
            {
                body["service_tier"] = "priority";
            }

            return body;
        });

    private static void Set(JsonObject body, string name, int? value)
    {
        if (value is { } v)
        {
            body[name] = v;
        }
    }

    // Issue 9, items 1 and 2: the reservation is an upper bound on what any upstream can bill.
    [Fact]
    public async Task Reservation_IsNeverBelowWhatTheUpstreamBills()
    {
        var billed = new ConcurrentDictionary<string, (long Reserved, long Bill, long Reported)>();
        hostile.Upstream.Answer = (context, body) =>
        {
            var accountId = (string)body["user"]!;
            var (prompt, completion) = UpstreamAnswers.WorstCaseUsage(body, HostileFixture.ImageCeiling);
            var reported = prompt * HostileFixture.PromptPrice + completion * HostileFixture.CompletionPrice;
            var tier = body.ContainsKey("service_tier") ? 2 : 1; // what the operator pays: its invoice, not the usage, shows the tier
            billed[accountId] = (hostile.Tollgate.Service<CreditLedger>().ReservedFor(accountId), Money.ToNanos(tier * reported), Money.ToNanos(reported));
            return UpstreamAnswers.OpenAiAsync(context, body);
        };

        await Body.SampleAsync(async body =>
        {
            var (accountId, secret) = await hostile.AccountAsync(10m);
            body["user"] = accountId;
            using var client = hostile.Tollgate.Client(secret);
            using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body(body.ToJsonString()), CancellationToken.None);
            var text = await response.Content.ReadAsStringAsync(CancellationToken.None);

            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
            var (reserved, bill, reported) = billed[accountId];
            Assert.True(reserved >= bill, $"reserved {reserved} nanos, the upstream billed {bill}");
            Assert.Equal(reported, LedgerAudit.Charges(hostile.Tollgate, accountId).CostNanos);
            await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId);
        }, iter: 40, threads: 1);
    }
}
