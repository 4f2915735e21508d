using System.Buffers;
using System.Text.Json;

namespace Tollgate.FakeUpstream.Serving;

/// <summary>
/// Anthropic's rules for extended thinking, checked as Anthropic checks them, with its messages: a budget of at
/// least 1024 below <c>max_tokens</c>; no temperature but 1, no <c>top_k</c>, no forced tool; and the last
/// assistant turn, when it uses a tool, starts with a thinking block whose signature matches its text.
/// </summary>
internal static class ThinkingRules
{
    public static (bool Enabled, string? Error) Check(ReadOnlySequence<byte> body)
    {
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        if (!root.TryGetProperty("thinking", out var thinking) || thinking.ValueKind != JsonValueKind.Object ||
            !thinking.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            return (false, "thinking: Input tag does not match any of the expected tags: 'enabled', 'disabled'");
        }

        if (type.GetString() == "disabled")
        {
            return (false, null);
        }

        if (type.GetString() != "enabled")
        {
            return (false, "thinking: Input tag does not match any of the expected tags: 'enabled', 'disabled'");
        }

        if (!thinking.TryGetProperty("budget_tokens", out var budgetElement) || !budgetElement.TryGetInt32(out var budget))
        {
            return (true, "thinking.enabled.budget_tokens: Field required");
        }

        if (budget < 1024)
        {
            return (true, "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024");
        }

        if (root.TryGetProperty("max_tokens", out var maxTokens) && maxTokens.TryGetInt32(out var cap) && cap <= budget)
        {
            return (true, "`max_tokens` must be greater than `thinking.budget_tokens`.");
        }

        if (root.TryGetProperty("temperature", out var temperature) && !(temperature.TryGetDouble(out var t) && t == 1))
        {
            return (true, "`temperature` may only be set to 1 when thinking is enabled.");
        }

        if (root.TryGetProperty("top_k", out _))
        {
            return (true, "`top_k` is not compatible with thinking.");
        }

        if (root.TryGetProperty("tool_choice", out var choice) && choice.TryGetProperty("type", out var choiceType) &&
            choiceType.GetString() is "any" or "tool")
        {
            return (true, "Thinking may not be enabled when tool_choice forces tool use.");
        }

        return (true, CheckMessages(root));
    }

    private static string? CheckMessages(JsonElement root)
    {
        if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        var lastAssistant = -1;
        for (var i = 0; i < messages.GetArrayLength(); i++)
        {
            var message = messages[i];
            if (message.TryGetProperty("role", out var role) && role.GetString() == "assistant")
            {
                lastAssistant = i;
            }

            if (message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
            {
                for (var j = 0; j < content.GetArrayLength(); j++)
                {
                    var block = content[j];
                    if (Type(block) == "thinking" && (Text(block, "signature") != Answer.ThinkingSignature || Text(block, "thinking") != Answer.ThinkingText))
                    {
                        return $"messages.{i}.content.{j}: Invalid `signature` in `thinking` block";
                    }
                }
            }
        }

        if (lastAssistant < 0 || !messages[lastAssistant].TryGetProperty("content", out var last) || last.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        var usesTool = last.EnumerateArray().Any(block => Type(block) == "tool_use");
        var first = last.GetArrayLength() > 0 ? Type(last[0]) : null;
        return usesTool && first is not ("thinking" or "redacted_thinking")
            ? $"messages.{lastAssistant}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{first}`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns."
            : null;
    }

    private static string? Type(JsonElement block) => Text(block, "type");

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
