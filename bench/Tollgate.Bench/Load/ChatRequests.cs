using System.Text;
using System.Text.Json;
using Tollgate.Bench.Stack;

namespace Tollgate.Bench.Load;

/// <summary>The one small chat request every measurement sends.</summary>
internal static class ChatRequests
{
    public static string Body(string model, bool stream)
    {
        var json = new StringBuilder();
        json.Append("{\"model\":").Append(JsonSerializer.Serialize(model, BenchJsonContext.Default.String))
            .Append(",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello to the benchmark in a few words.\"}],\"max_tokens\":100");
        if (stream)
        {
            json.Append(",\"stream\":true");
        }

        return json.Append('}').ToString();
    }

    public static HttpRequestMessage Create(ChatEndpoint endpoint, bool stream)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Url)
        {
            Content = new StringContent(Body(endpoint.Model, stream), Encoding.UTF8, "application/json"),
        };
        foreach (var (name, value) in endpoint.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class BenchJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
