namespace Tollgate.FakeUpstream;

/// <summary>A request as the fake upstream received it, for tests to inspect.</summary>
/// <param name="Method">The HTTP method.</param>
/// <param name="Path">The request path, e.g. <c>/v1/chat/completions</c>.</param>
/// <param name="Model">The <c>model</c> of the JSON body, or null when absent or unreadable.</param>
/// <param name="Body">The raw request body.</param>
/// <param name="Headers">Every request header (case-insensitive names; repeated values joined by commas).</param>
/// <param name="ReceivedAt">When the body had been read.</param>
internal sealed record ReceivedRequest(
    string Method,
    string Path,
    string? Model,
    string Body,
    IReadOnlyDictionary<string, string> Headers,
    DateTimeOffset ReceivedAt);
