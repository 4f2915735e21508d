using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tollgate.Providers.OpenAi;

/// <summary>
/// Reasoning through OpenAI-compatible servers. Out: <c>reasoning_effort</c> for models that reason. Back: the
/// reasoning that vLLM, DeepSeek and Ollama return as <c>reasoning_content</c> (or <c>reasoning</c>) comes out as
/// OpenRouter's <c>reasoning</c> and <c>reasoning_details</c>, as Anthropic's thinking does; none of it when the
/// client excluded it. History: the reasoning fields of earlier assistant messages are not sent back upstream
/// (DeepSeek refuses <c>reasoning_content</c> in its input; OpenAI refuses fields it does not know).
/// </summary>
internal static class Reasoning
{
    /// <summary>The <c>format</c> of details made from <c>reasoning_content</c> (OpenRouter's name for an unknown one).</summary>
    internal const string Format = "unknown";

    private static readonly string[] HistoryFields = ["reasoning", "reasoning_details", "reasoning_content"];

    /// <summary>
    /// OpenAI's <c>reasoning_effort</c> for a request: its effort, else one read off a thinking budget's share of the cap
    /// (OpenRouter's shares: 80% high, 50% medium, less low); null when neither was given (the model's default).
    /// </summary>
    public static string? Effort(Gateway.ReasoningRequest reasoning, int maxTokens) =>
        reasoning.Effort ?? (reasoning.MaxTokens is { } budget
            ? (budget >= 0.8 * maxTokens ? "high" : budget >= 0.5 * maxTokens ? "medium" : "low")
            : null);

    /// <summary>Rewrites each choice's <paramref name="field"/> (<c>message</c> or <c>delta</c>) in place.</summary>
    public static void Normalise(JsonObject answer, string field, bool exclude)
    {
        if (answer["choices"] is not JsonArray choices)
        {
            return;
        }

        foreach (var choice in choices)
        {
            if (choice?[field] is not JsonObject message)
            {
                continue;
            }

            if (exclude)
            {
                foreach (var name in HistoryFields)
                {
                    message.Remove(name);
                }

                continue;
            }

            var text = Text(message["reasoning_content"]) ?? Text(message["reasoning"]);
            if (text is null)
            {
                continue;
            }

            message.Remove("reasoning_content");
            message["reasoning"] = text;
            if (!message.ContainsKey("reasoning_details"))
            {
                message["reasoning_details"] = new JsonArray(new JsonObject
                {
                    ["type"] = "reasoning.text",
                    ["text"] = text,
                    ["format"] = Format,
                    ["index"] = 0,
                });
            }
        }
    }

    /// <summary>The messages as sent, without the reasoning fields of assistant messages.</summary>
    public static void WriteMessages(Utf8JsonWriter json, JsonArray messages)
    {
        json.WriteStartArray();
        foreach (var message in messages)
        {
            if (message is JsonObject item && HistoryFields.Any(item.ContainsKey))
            {
                json.WriteStartObject();
                foreach (var (name, value) in item)
                {
                    if (!HistoryFields.Contains(name))
                    {
                        json.WritePropertyName(name);
                        if (value is null)
                        {
                            json.WriteNullValue();
                        }
                        else
                        {
                            value.WriteTo(json);
                        }
                    }
                }

                json.WriteEndObject();
            }
            else if (message is null)
            {
                json.WriteNullValue();
            }
            else
            {
                message.WriteTo(json);
            }
        }

        json.WriteEndArray();
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var text) && text.Length > 0 ? text : null;
}
