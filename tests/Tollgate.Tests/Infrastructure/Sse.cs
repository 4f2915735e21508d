using System.Text.Json;

namespace Tollgate.Tests.Infrastructure;

/// <summary>Reads a whole SSE answer as a client would, keeping comments and data lines apart.</summary>
internal sealed record SseAnswer(IReadOnlyList<string> Comments, IReadOnlyList<string> Data)
{
    public IReadOnlyList<JsonElement> Chunks =>
        Data.Where(d => d != "[DONE]").Select(d => JsonDocument.Parse(d).RootElement.Clone()).ToArray();

    public bool EndsWithDone => Data.Count > 0 && Data[^1] == "[DONE]";

    public string Text => string.Concat(Chunks
        .Where(c => c.TryGetProperty("choices", out var ch) && ch.GetArrayLength() > 0)
        .Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
        .Select(d => d.TryGetProperty("content", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : ""));

    public static async Task<SseAnswer> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var comments = new List<string>();
        var data = new List<string>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.StartsWith(':'))
            {
                comments.Add(line);
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data.Add(line["data: ".Length..]);
            }
        }

        return new SseAnswer(comments, data);
    }
}
