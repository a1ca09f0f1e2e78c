from underpaint.cli import main

main()
