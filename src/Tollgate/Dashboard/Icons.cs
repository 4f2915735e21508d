using Microsoft.AspNetCore.Html;

namespace Tollgate.Dashboard;

/// <summary>Inline SVG icons (24×24 strokes), so pages need no icon font and the CSP no exception.</summary>
internal static class Icons
{
    private static readonly Dictionary<string, string> Paths = new(StringComparer.Ordinal)
    {
        ["home"] = """<path d="M3 10.5 12 3l9 7.5"/><path d="M5 9.5V21h14V9.5"/><path d="M9.5 21v-6h5v6"/>""",
        ["key"] = """<circle cx="7.5" cy="15.5" r="4.5"/><path d="m10.7 12.3 9.3-9.3"/><path d="m16 7 3 3"/><path d="m14 9 2 2"/>""",
        ["chart"] = """<path d="M3 3v18h18"/><rect x="7" y="12" width="3" height="6" rx="1"/><rect x="12" y="8" width="3" height="10" rx="1"/><rect x="17" y="5" width="3" height="13" rx="1"/>""",
        ["credits"] = """<rect x="2.5" y="5.5" width="19" height="13" rx="2.5"/><path d="M2.5 10h19"/><path d="M6.5 15h4"/>""",
        ["models"] = """<path d="M12 2.5 21 7.5v9l-9 5-9-5v-9z"/><path d="m3 7.5 9 5 9-5"/><path d="M12 12.5v9"/>""",
        ["play"] = """<circle cx="12" cy="12" r="9.5"/><path d="m10 8.5 5.5 3.5-5.5 3.5z"/>""",
        ["user"] = """<circle cx="12" cy="8" r="4"/><path d="M4 21c1.5-4 4.5-6 8-6s6.5 2 8 6"/>""",
        ["shield"] = """<path d="M12 2.5 20 5.5v6c0 5-3.5 8.5-8 10-4.5-1.5-8-5-8-10v-6z"/><path d="m8.5 12 2.5 2.5 4.5-5"/>""",
        ["users"] = """<circle cx="9" cy="8" r="3.5"/><path d="M2.5 20c1-3.5 3.5-5.5 6.5-5.5s5.5 2 6.5 5.5"/><path d="M16 4.8a3.5 3.5 0 0 1 0 6.4"/><path d="M18 14.8c1.8.8 3 2.5 3.5 5.2"/>""",
        ["server"] = """<rect x="3" y="3.5" width="18" height="7" rx="2"/><rect x="3" y="13.5" width="18" height="7" rx="2"/><path d="M7 7h.01M7 17h.01"/>""",
        ["log"] = """<path d="M6 2.5h9l4 4V21.5H6z"/><path d="M15 2.5v4h4"/><path d="M9 12h7M9 16h7"/>""",
        ["copy"] = """<rect x="8.5" y="8.5" width="12" height="12" rx="2"/><path d="M15.5 8.5V5a1.5 1.5 0 0 0-1.5-1.5H5A1.5 1.5 0 0 0 3.5 5v9A1.5 1.5 0 0 0 5 15.5h3.5"/>""",
        ["plus"] = """<path d="M12 5v14M5 12h14"/>""",
        ["menu"] = """<path d="M4 7h16M4 12h16M4 17h16"/>""",
        ["logout"] = """<path d="M15 4h3.5A1.5 1.5 0 0 1 20 5.5v13a1.5 1.5 0 0 1-1.5 1.5H15"/><path d="M10 16.5 14.5 12 10 7.5"/><path d="M14.5 12H4"/>""",
        ["download"] = """<path d="M12 3.5v12"/><path d="m7 11 5 5 5-5"/><path d="M4 20.5h16"/>""",
        ["alert"] = """<path d="M12 3 22 20H2z"/><path d="M12 10v4.5M12 17.5h.01"/>""",
        ["check"] = """<path d="m5 12.5 4.5 4.5L19 7.5"/>""",
        ["mail"] = """<rect x="2.5" y="5" width="19" height="14" rx="2"/><path d="m3 6.5 9 6.5 9-6.5"/>""",
        ["search"] = """<circle cx="11" cy="11" r="7"/><path d="m20.5 20.5-4.5-4.5"/>""",
    };

    /// <summary>The named icon, hidden from screen readers (its text label says what it is).</summary>
    public static IHtmlContent Get(string name) => new HtmlString(
        $"""<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">{Paths[name]}</svg>""");

    public static IHtmlContent Logo { get; } = new HtmlString(
        """<svg viewBox="0 0 32 32" aria-hidden="true" focusable="false"><rect width="32" height="32" rx="8" fill="#4f46e5"/><path d="M9 11h14M16 11v12" stroke="#fff" stroke-width="3.2" stroke-linecap="round"/><circle cx="23" cy="21" r="2.4" fill="#a5b4fc"/></svg>""");
}
