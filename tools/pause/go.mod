module ci-runner/tools/pause

go 1.24
