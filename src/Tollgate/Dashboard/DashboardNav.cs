using Tollgate.Accounts;

namespace Tollgate.Dashboard;

/// <summary>The sidebar: sections of links; admin pages only for owners and admins.</summary>
internal static class DashboardNav
{
    internal sealed record Item(string Key, string Href, string Label, string Icon);

    internal sealed record Section(string? Title, IReadOnlyList<Item> Items);

    public static IReadOnlyList<Section> For(Account account)
    {
        var sections = new List<Section>
        {
            new(null,
            [
                new("home", "/", "Overview", "home"),
                new("usage", "/usage", "Usage", "chart"),
                new("credits", "/credits", "Credits", "credits"),
                new("models", "/models", "Models", "models"),
                new("playground", "/playground", "Playground", "play"),
            ]),
            new("Settings",
            [
                new("keys", "/settings/keys", "API Keys", "key"),
                new("account", "/settings/account", "Account", "user"),
            ]),
        };
        if (account.IsAdmin)
        {
            sections.Add(new("Admin",
            [
                new("admin-accounts", "/admin/accounts", "Accounts", "users"),
                new("admin-credits", "/admin/credits", "Grant credits", "credits"),
                new("admin-providers", "/admin/providers", "Providers", "server"),
                new("admin-audit", "/admin/audit", "Audit log", "log"),
            ]));
        }

        return sections;
    }
}
