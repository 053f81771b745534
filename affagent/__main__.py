from affagent.cli import run

run()
