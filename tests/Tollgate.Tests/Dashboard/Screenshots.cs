using Microsoft.Playwright;

namespace Tollgate.Tests.Dashboard;

/// <summary>
/// Screenshots of pages, into the test output (<c>bin/.../screenshots</c>); with
/// <c>TOLLGATE_SCREENSHOTS=docs/screenshots</c> (a path from the repository root) also there, which is how
/// the committed ones in <c>docs/screenshots/</c> are refreshed.
/// </summary>
internal static class Screenshots
{
    public static string OutputFolder { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    public static async Task SaveAsync(IPage page, string name)
    {
        var size = page.ViewportSize!;
        var file = $"{name}-{size.Width}x{size.Height}.png";
        Directory.CreateDirectory(OutputFolder);
        var bytes = await page.ScreenshotAsync(new PageScreenshotOptions { FullPage = true, Animations = ScreenshotAnimations.Disabled });
        await File.WriteAllBytesAsync(Path.Combine(OutputFolder, file), bytes);
        if (Environment.GetEnvironmentVariable("TOLLGATE_SCREENSHOTS") is { Length: > 0 } target)
        {
            var folder = Path.IsPathRooted(target) ? target : Path.Combine(RepositoryRoot(), target);
            Directory.CreateDirectory(folder);
            await File.WriteAllBytesAsync(Path.Combine(folder, file), bytes);
        }
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Tollgate.slnx")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (Tollgate.slnx) was not found above the test output.");
    }
}
