using System.Globalization;
using System.Text;
using Tollgate.Bench.Infrastructure;

namespace Tollgate.Bench.Stack;

/// <summary>nginx as a plain reverse proxy: one location per fake upstream, keep-alive to it, no buffering.</summary>
internal static class Nginx
{
    public static Target Start(ChildProcesses processes, string folder, IReadOnlyDictionary<Upstream, Uri> roots)
    {
        Directory.CreateDirectory(folder);
        var port = Ports.Free();
        var config = new StringBuilder();
        // worker_processes auto (one per core): Tollgate and Portkey's libuv may use every core,
        // so the reference gets the same; at c=1 only one worker is busy either way.
        config.Append(CultureInfo.InvariantCulture, $$"""
            daemon off;
            worker_processes auto;
            worker_rlimit_nofile 65536;
            pid {{folder}}/nginx.pid;
            error_log {{folder}}/error.log warn;
            events { worker_connections 16384; }
            http {
                access_log off;
                client_body_temp_path {{folder}}/body;
                proxy_temp_path {{folder}}/proxy;
                fastcgi_temp_path {{folder}}/fastcgi;
                uwsgi_temp_path {{folder}}/uwsgi;
                scgi_temp_path {{folder}}/scgi;
                keepalive_requests 1000000;
                keepalive_timeout 120s;

            """);
        foreach (var (upstream, root) in roots)
        {
            config.Append(CultureInfo.InvariantCulture, $$"""
                    upstream {{Name(upstream)}} { server 127.0.0.1:{{root.Port}}; keepalive 256; keepalive_requests 1000000; }

                """);
        }

        config.Append(CultureInfo.InvariantCulture, $$"""
                server {
                    listen 127.0.0.1:{{port}} backlog=4096;
                    proxy_http_version 1.1;
                    proxy_set_header Connection "";
                    proxy_buffering off;
                    proxy_request_buffering off;

            """);
        foreach (var upstream in roots.Keys)
        {
            config.Append(CultureInfo.InvariantCulture, $$"""
                        location /{{Name(upstream)}}/ { proxy_pass http://{{Name(upstream)}}/; }

                """);
        }

        config.Append("    }\n}\n");
        var path = Path.Combine(folder, "nginx.conf");
        File.WriteAllText(path, config.ToString());
        var process = processes.Start("nginx", "nginx", ["-c", path, "-p", folder + "/"]);
        return new Target(Target.Nginx, roots.Keys.ToDictionary(u => u, u => new ChatEndpoint(
            new Uri($"http://127.0.0.1:{port}/{Name(u)}/v1/chat/completions"), "fake-model", new Dictionary<string, string>())), process.Id);
    }

    /// <summary>The version, e.g. <c>nginx/1.22.1</c>, or null when nginx is not installed.</summary>
    public static async Task<string?> VersionAsync(CancellationToken cancellationToken)
    {
        try
        {
            var (exitCode, output) = await ChildProcesses.RunToEndAsync("nginx", ["-v"], null, null, cancellationToken);
            return exitCode == 0 ? output.Replace("nginx version: ", "", StringComparison.Ordinal).Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    private static string Name(Upstream upstream) => upstream.ToString().ToLowerInvariant();
}
