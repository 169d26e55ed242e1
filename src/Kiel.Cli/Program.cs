using Kiel.Cli;

return await KielApp.RunAsync(args);
