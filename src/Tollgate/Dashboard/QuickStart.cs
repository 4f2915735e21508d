namespace Tollgate.Dashboard;

/// <summary>What the quick-start snippets show: this server's address, a key (or its placeholder) and a model id.</summary>
internal sealed record QuickStart(string BaseUrl, string Key, string ModelId, string Id = "quickstart")
{
    public const string KeyPlaceholder = "YOUR_API_KEY";
}
