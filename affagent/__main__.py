from affagent.cli import main

main()
