using System.Text.Json;

namespace Tollgate.FakeUpstream.Serving;

/// <summary><c>GET /v1/models</c> in OpenAI's list shape: <c>fake-model</c> and every configured scenario's model.</summary>
internal static class ModelList
{
    public const string DefaultModel = "fake-model";

    public static async Task WriteAsync(HttpContext context, ChatHandler chat, FakeUpstreamOptions options)
    {
        chat.Record(context);
        var created = options.TimeProvider.GetUtcNow().ToUnixTimeSeconds();
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.BodyWriter);
        writer.WriteStartObject();
        writer.WriteString("object", "list");
        writer.WriteStartArray("data");
        foreach (var model in options.Scenarios.Keys.Append(DefaultModel).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            writer.WriteStartObject();
            writer.WriteString("id", model);
            writer.WriteString("object", "model");
            writer.WriteNumber("created", created);
            writer.WriteString("owned_by", "tollgate-fake-upstream");
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}
