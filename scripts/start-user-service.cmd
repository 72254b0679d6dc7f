@echo off
rem Builds (incrementally) and runs user-service alone; it reads user-service\.env when present.
cd /d "%~dp0.."
call npx tsc -b user-service || exit /b 1
cd user-service
node dist\src\main.js
